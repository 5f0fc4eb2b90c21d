"""Generate tiny random-weight CLIP fixtures in the ONNX layouts users bring.

One seeded tiny CLIP (OpenAI architecture family: ViT image tower with a class token, conv patch embedding,
ln_pre/ln_post and a projection; causal text transformer with ln_final, pooled at the EOT position found by
argmax over the ids, and a text projection) is exported with the SAME weights into three layouts under
tests/fixtures/models/:

  split/      HF / Xenova (transformers.js) split export
                onnx/vision_model.onnx        pixel_values f32 [batch,3,32,32] -> image_embeds [batch,16] (raw),
                                              last_hidden_state
                onnx/text_model.onnx          input_ids i64 [batch,seq]        -> text_embeds [batch,16] (raw),
                                              last_hidden_state
                onnx/vision_model_fp16.onnx   the "_fp16" variant: f16 pixels in, f16 embeddings out
                onnx/text_model_fp16.onnx     i64 ids in, f16 embeddings out
                preprocessor_config.json, config.json, tokenizer_config.json (HF keys)
  immich/     Immich (open_clip exporter) layout, fixed batch 1, L2-normalized in-graph
                visual/model.onnx             image f32 [1,3,32,32] -> embedding [1,16]
                visual/preprocess_cfg.json
                textual/model.onnx            text i32 [1,77] -> embedding [1,16]
                textual/tokenizer_config.json
                config.json                   open_clip model cfg (embed_dim, text_cfg.context_length, ...)
  combined/   HF optimum single graph
                model.onnx                    input_ids i64 [B_txt,seq], pixel_values f32 [B_img,3,32,32],
                                              attention_mask i64 [B_txt,seq] -> logits_per_image [B_img,B_txt],
                                              logits_per_text, text_embeds, image_embeds (normalized; scale 100)
                preprocessor_config.json, config.json, tokenizer_config.json
  mismatch/text_model_embed8.onnx   a split-style text tower with embedding dim 8 (other weights), used by
                                    the tests to assemble a model directory whose towers disagree
  expected.json                     torch reference embeddings for fixed inputs (see "inputs" inside)

Token ids: vocab 1000 with SOT = 998 and EOT = 999 (so EOT is the largest id, as in real CLIP); the tests feed
ids < 1000. Pixels: element i of the flattened [2,3,32,32] tensor is ((i*37 + 11) % 201 - 100) / 100 in
float32; the formula is exactly reproducible in C# (one IEEE division), unlike torch.linspace.

Usage (Debian's torch, not the pyenv python on PATH):
    apt-get install -y python3-torch python3-onnx python3-numpy
    /usr/bin/python3 tools/make_layout_fixtures.py [--out tests/fixtures/models]

Deterministic: torch.manual_seed(0) fixes every weight, and with torch 1.13.1 / onnx 1.12 two runs give
byte-identical files (check with `git status` after regenerating). If another torch version changes the ONNX
bytes, the values still match expected.json; regenerate everything together so they stay consistent.
"""

import argparse
import json
import math
import os
import shutil

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

OPSET = 17
IMAGE_SIZE = 32
PATCH = 8
WIDTH = 32
HEADS = 4
LAYERS = 2
EMBED_DIM = 16
VOCAB = 1000
SOT_ID = 998
EOT_ID = 999
CONTEXT = 77
LOGIT_SCALE = 100.0
# OpenAI CLIP normalization constants (openai/CLIP:clip/clip.py _transform).
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
# Large finite negative instead of -inf: a fully masked row can then never produce NaN.
NEG = -1e9


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """Multi-head self-attention written out (MatMul/Softmax) so the additive mask is explicit."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, mask):
        b, n, w = x.shape
        q, k, v = self.in_proj(x).chunk(3, dim=-1)
        q = q.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)
        k = k.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)
        v = v.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        if mask is not None:
            att = att + mask
        out = att.softmax(dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, n, w))


class Block(nn.Module):
    """OpenAI ResidualAttentionBlock: pre-LN attention and a QuickGELU MLP."""

    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), QuickGELU(), nn.Linear(4 * width, width))

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class VisionTower(nn.Module):
    def __init__(self, width, heads, layers, embed_dim):
        super().__init__()
        grid = IMAGE_SIZE // PATCH
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=PATCH, stride=PATCH, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, embed_dim))

    def forward(self, pixels):
        """pixels [B,3,S,S] -> (image_embeds [B,D] raw projection, last_hidden_state [B,1+g*g,W])."""
        x = self.conv1(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        for block in self.blocks:
            x = block(x, None)
        return self.ln_post(x[:, 0, :]) @ self.proj, x


class TextTower(nn.Module):
    def __init__(self, width, heads, layers, embed_dim):
        super().__init__()
        self.token_embedding = nn.Embedding(VOCAB, width)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(CONTEXT, width))
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(width ** -0.5 * torch.randn(width, embed_dim))

    def forward(self, ids, attention_mask=None):
        """ids [B,S] (S <= 77) -> (text_embeds [B,D] raw projection, last_hidden_state [B,S,W])."""
        n = ids.shape[1]
        x = self.token_embedding(ids) + self.positional_embedding[:n]
        pos = torch.arange(n)
        mask = ((pos[None, :] > pos[:, None]).float() * NEG)[None, None]
        if attention_mask is not None:
            # HF CLIPTextTransformer: causal mask plus key padding from attention_mask.
            mask = mask + (1.0 - attention_mask[:, None, None, :].float()) * NEG
        for block in self.blocks:
            x = block(x, mask)
        x = self.ln_final(x)
        # Pool at the first maximum id (the EOT). ArgMax runs on int32 because ONNX Runtime has no int64
        # ArgMax kernel (openai/CLIP PR #219, microsoft/onnxruntime#10068); HF casts the same way.
        eot = ids.to(torch.int32).argmax(dim=-1)
        return x[torch.arange(x.shape[0]), eot] @ self.text_projection, x


class TinyClip(nn.Module):
    def __init__(self, width=WIDTH, heads=HEADS, layers=LAYERS, embed_dim=EMBED_DIM):
        super().__init__()
        self.visual = VisionTower(width, heads, layers, embed_dim)
        self.text = TextTower(width, heads, layers, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(LOGIT_SCALE)))


class SplitVision(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        return self.m.visual(pixel_values)


class SplitText(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m.text(input_ids)


class SplitVisionFp16(nn.Module):
    """fp16 I/O around fp32 compute: exercises the Float16 input/output paths without fp16 CPU kernels."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        embeds, hidden = self.m.visual(pixel_values.float())
        return embeds.half(), hidden.half()


class SplitTextFp16(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        embeds, hidden = self.m.text(input_ids)
        return embeds.half(), hidden.half()


class ImmichVisual(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, image):
        return F.normalize(self.m.visual(image)[0], dim=-1)


class ImmichText(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, text):
        return F.normalize(self.m.text(text)[0], dim=-1)


class Combined(nn.Module):
    """HF CLIPModel.forward: normalized embeds, logits scaled by exp(logit_scale) baked into the graph."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, pixel_values, attention_mask):
        image_embeds = F.normalize(self.m.visual(pixel_values)[0], dim=-1)
        text_embeds = F.normalize(self.m.text(input_ids, attention_mask)[0], dim=-1)
        logits_per_text = text_embeds @ image_embeds.t() * self.m.logit_scale.exp()
        return logits_per_text.t(), logits_per_text, text_embeds, image_embeds


def export(module, args, path, input_names, output_names, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def hf_sidecars(out_dir):
    write_json(os.path.join(out_dir, "preprocessor_config.json"), {
        "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": MEAN,
        "image_processor_type": "CLIPImageProcessor",
        "image_std": STD,
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": IMAGE_SIZE},
    })
    write_json(os.path.join(out_dir, "config.json"), {
        "architectures": ["CLIPModel"],
        "logit_scale_init_value": 2.6592,
        "model_type": "clip",
        "projection_dim": EMBED_DIM,
        "text_config": {
            "bos_token_id": SOT_ID,
            "eos_token_id": EOT_ID,
            "hidden_size": WIDTH,
            "intermediate_size": 4 * WIDTH,
            "max_position_embeddings": CONTEXT,
            "model_type": "clip_text_model",
            "num_attention_heads": HEADS,
            "num_hidden_layers": LAYERS,
            "pad_token_id": 1,
            "projection_dim": EMBED_DIM,
            "vocab_size": VOCAB,
        },
        "vision_config": {
            "hidden_size": WIDTH,
            "image_size": IMAGE_SIZE,
            "intermediate_size": 4 * WIDTH,
            "model_type": "clip_vision_model",
            "num_attention_heads": HEADS,
            "num_hidden_layers": LAYERS,
            "patch_size": PATCH,
            "projection_dim": EMBED_DIM,
        },
    })
    write_json(os.path.join(out_dir, "tokenizer_config.json"), tokenizer_config())


def tokenizer_config():
    # The HF/Immich CLIP tokenizers pad with <|endoftext|> (the EOT id), not with 0 as openai/CLIP does.
    return {
        "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>", "lstrip": False,
                      "normalized": True, "rstrip": False, "single_word": False},
        "do_lower_case": True,
        "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": False,
                      "normalized": True, "rstrip": False, "single_word": False},
        "model_max_length": CONTEXT,
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": "<|endoftext|>",
    }


def pad_rows(rows, length, pad):
    return [r + [pad] * (length - len(r)) for r in rows]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--out", default=os.path.join(root, "tests", "fixtures", "models"))
    out = parser.parse_args().out

    torch.manual_seed(0)
    model = TinyClip().eval()
    # A second, unrelated model whose embedding dim (8) disagrees with the first (16).
    odd = TinyClip(width=16, heads=2, layers=1, embed_dim=8).eval()

    for sub in ("split", "immich", "combined", "mismatch"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)

    batch_pixels = torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    one_pixels = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    trace_ids = torch.tensor(pad_rows([[SOT_ID, 5, 6, EOT_ID], [SOT_ID, EOT_ID]], 6, EOT_ID), dtype=torch.int64)
    img_axes = {"pixel_values": {0: "batch_size"}, "image_embeds": {0: "batch_size"},
                "last_hidden_state": {0: "batch_size"}}
    txt_axes = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "text_embeds": {0: "batch_size"},
                "last_hidden_state": {0: "batch_size", 1: "sequence_length"}}

    # split (HF / Xenova): raw projections, dynamic batch and sequence.
    split = os.path.join(out, "split")
    export(SplitVision(model), (batch_pixels,), os.path.join(split, "onnx", "vision_model.onnx"),
           ["pixel_values"], ["image_embeds", "last_hidden_state"], img_axes)
    export(SplitText(model), (trace_ids,), os.path.join(split, "onnx", "text_model.onnx"),
           ["input_ids"], ["text_embeds", "last_hidden_state"], txt_axes)
    export(SplitVisionFp16(model), (batch_pixels.half(),), os.path.join(split, "onnx", "vision_model_fp16.onnx"),
           ["pixel_values"], ["image_embeds", "last_hidden_state"], img_axes)
    export(SplitTextFp16(model), (trace_ids,), os.path.join(split, "onnx", "text_model_fp16.onnx"),
           ["input_ids"], ["text_embeds", "last_hidden_state"], txt_axes)
    hf_sidecars(split)

    # immich: fixed batch 1, int32 ids fixed at 77, normalized in-graph (dynamic_axes deliberately absent).
    immich = os.path.join(out, "immich")
    export(ImmichVisual(model), (one_pixels,), os.path.join(immich, "visual", "model.onnx"),
           ["image"], ["embedding"], None)
    immich_ids = torch.tensor(pad_rows([[SOT_ID, 5, 6, EOT_ID]], CONTEXT, EOT_ID), dtype=torch.int32)
    export(ImmichText(model), (immich_ids,), os.path.join(immich, "textual", "model.onnx"),
           ["text"], ["embedding"], None)
    write_json(os.path.join(immich, "visual", "preprocess_cfg.json"), {
        "fill_color": 0, "interpolation": "bicubic", "mean": MEAN, "mode": "RGB",
        "resize_mode": "shortest", "size": [IMAGE_SIZE, IMAGE_SIZE], "std": STD,
    })
    write_json(os.path.join(immich, "textual", "tokenizer_config.json"), tokenizer_config())
    write_json(os.path.join(immich, "config.json"), {
        "embed_dim": EMBED_DIM,
        "text_cfg": {"context_length": CONTEXT, "heads": HEADS, "layers": LAYERS, "vocab_size": VOCAB,
                     "width": WIDTH},
        "vision_cfg": {"image_size": IMAGE_SIZE, "layers": LAYERS, "patch_size": PATCH, "width": WIDTH},
    })

    # combined (HF optimum): both modalities per call, normalized embeds, logit scale baked in.
    combined = os.path.join(out, "combined")
    export(Combined(model), (trace_ids, batch_pixels, torch.ones_like(trace_ids)),
           os.path.join(combined, "model.onnx"),
           ["input_ids", "pixel_values", "attention_mask"],
           ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"],
           {"input_ids": {0: "text_batch_size", 1: "sequence_length"},
            "attention_mask": {0: "text_batch_size", 1: "sequence_length"},
            "pixel_values": {0: "image_batch_size"},
            "logits_per_image": {0: "image_batch_size", 1: "text_batch_size"},
            "logits_per_text": {0: "text_batch_size", 1: "image_batch_size"},
            "text_embeds": {0: "text_batch_size"}, "image_embeds": {0: "image_batch_size"}})
    hf_sidecars(combined)

    export(SplitText(odd), (trace_ids,), os.path.join(out, "mismatch", "text_model_embed8.onnx"),
           ["input_ids"], ["text_embeds", "last_hidden_state"], txt_axes)

    # Reference values for fixed inputs.
    count = 2 * 3 * IMAGE_SIZE * IMAGE_SIZE
    idx = np.arange(count, dtype=np.int64)
    pixels = (((idx * 37 + 11) % 201 - 100).astype(np.float32) / np.float32(100)).reshape(2, 3, IMAGE_SIZE,
                                                                                          IMAGE_SIZE)
    rows = [[SOT_ID, 17, 250, 3, EOT_ID],
            [SOT_ID, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, EOT_ID],
            [SOT_ID, EOT_ID]]
    with torch.no_grad():
        image = model.visual(torch.from_numpy(pixels))[0]
        # Reference text embeddings: each row alone, unpadded, so padding cannot leak into the reference.
        text = torch.cat([model.text(torch.tensor([r], dtype=torch.int64))[0] for r in rows])
        image_n = F.normalize(image, dim=-1)
        text_n = F.normalize(text, dim=-1)
        probs = (LOGIT_SCALE * image_n @ text_n.t()).softmax(dim=-1)

    def listed(t):
        return [[float(v) for v in row] for row in t.numpy().astype(np.float32)]

    write_json(os.path.join(out, "expected.json"), {
        "embed_dim": EMBED_DIM,
        "image_size": IMAGE_SIZE,
        "sot_id": SOT_ID,
        "eot_id": EOT_ID,
        "vocab_size": VOCAB,
        "logit_scale": LOGIT_SCALE,
        "inputs": {
            "pixels_shape": [2, 3, IMAGE_SIZE, IMAGE_SIZE],
            "pixels_formula": "flat index i: ((i*37 + 11) % 201 - 100) / 100 as float32",
            "token_ids": rows,
        },
        "image_embeds": listed(image),
        "image_embeds_normalized": listed(image_n),
        "text_embeds": listed(text),
        "text_embeds_normalized": listed(text_n),
        "probs_per_image": listed(probs),
    })

    total = 0
    for dirpath, _, files in sorted(os.walk(out)):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            total += os.path.getsize(path)
            print(f"{os.path.getsize(path):>9}  {os.path.relpath(path, out)}")
    print(f"{total:>9}  total")


if __name__ == "__main__":
    main()
