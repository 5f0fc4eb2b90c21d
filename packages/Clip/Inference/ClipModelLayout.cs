namespace Clip.Inference;

/// <summary>How a CLIP checkpoint's ONNX files are laid out in its model directory.</summary>
public enum ClipModelLayout
{
    /// <summary>
    /// Hugging Face / Xenova (transformers.js) split export: <c>onnx/vision_model.onnx</c> (<c>pixel_values</c> →
    /// <c>image_embeds</c>) and <c>onnx/text_model.onnx</c> (<c>input_ids</c> int64 → <c>text_embeds</c>), dynamic
    /// batch and sequence, outputs not normalized. Sidecars: <c>preprocessor_config.json</c>, <c>config.json</c>,
    /// <c>tokenizer_config.json</c>.
    /// </summary>
    Split,

    /// <summary>
    /// Immich (open_clip exporter): <c>visual/model.onnx</c> (<c>image</c> → <c>embedding</c>) and
    /// <c>textual/model.onnx</c> (<c>text</c> int32 [1,77] → <c>embedding</c>), fixed batch 1, outputs
    /// L2-normalized. Sidecars: <c>config.json</c>, <c>visual/preprocess_cfg.json</c>,
    /// <c>textual/tokenizer_config.json</c>.
    /// </summary>
    Immich,

    /// <summary>
    /// Hugging Face optimum single graph <c>model.onnx</c> (or <c>onnx/model.onnx</c>) that needs both modalities on
    /// every call and returns normalized <c>text_embeds</c>/<c>image_embeds</c> plus logits. Works, but each
    /// single-modality call pays for a dummy input of the other modality; prefer a split export.
    /// </summary>
    Combined,
}
