#!/usr/bin/python3
"""Export a CLIP with exactly ViT-B/32's shapes and random weights, for speed benchmarks.

Speed does not depend on weight values, and real ViT-B/32 weights cannot be downloaded here, so this builds
openai/CLIP's `clip/model.py` architecture at ViT-B/32 size from a fixed seed and exports it in the split
(HF/Xenova) layout the C# engine loads:

    OUT/onnx/vision_model.onnx   pixel_values float32 [batch,3,224,224] -> image_embeds [batch,512]
    OUT/onnx/text_model.onnx     input_ids int64 [batch,sequence]       -> text_embeds  [batch,512]
    OUT/onnx/text_model_ctx77.onnx (+ vision_model_ctx77.onnx, a symlink)   the same text tower fixed at 77 tokens
    OUT/config.json, OUT/preprocessor_config.json
    OUT/bpe_simple_vocab_16e6.txt.gz   OpenAI's real merges (the C# tokenizer finds it by this name)
    OUT/torch_reference.json     seed, parameter fingerprint and reference embeddings for a fixed input

Shapes: vision 224 px, patch 32, width 768, 12 layers, 12 heads; text width 512, 12 layers, 8 heads, vocab 49408,
context 77; embedding 512 (151.3 M parameters, as open_clip's profile lists for ViT-B-32). Opset 17, dynamic batch;
the text graph also takes any sequence length up to 77, as the Xenova exports do, so a server can run only the real
tokens. The PyTorch baseline (tools/python_baseline.py) does not load the ONNX files: it rebuilds the same module
from the same seed with `build_model()` (construction on CPU is deterministic) and checks the fingerprint, which
saves writing 600 MB of state dict.

`--size tiny` builds the same architecture with every width and depth shrunk (3.5 M parameters, 224 px, patch 32,
vocabulary and context unchanged): a model that runs every step of bench/gpu/run.sh's plumbing in seconds on a CPU.
Its timings mean nothing about ViT-B/32. torch_reference.json records the size, and the baseline rebuilds that size.

`--fp16` (needs CUDA) also writes an fp16 variant, converted as openai/CLIP's `convert_weights` does (Conv/Linear/
attention weights and the projections in fp16, LayerNorm in fp32) and exported on the GPU: onnx/vision_model_fp16.onnx,
onnx/text_model_fp16.onnx, onnx/text_model_ctx77_fp16.onnx (+ vision_model_ctx77_fp16.onnx, a symlink). Inputs and
outputs stay float32 (cast inside the graph), so the engine feeds them like the fp32 files. `--fp16-only` adds the
variant to an existing export after checking it holds the same weights.

Usage: /usr/bin/python3 tools/export_vit_b32_random.py [OUT] [--size b32|tiny] [--fp16 | --fp16-only]
       (default OUT /tmp/vit-b-32-random; never commit it). TRUSS_CLIP_MERGES overrides where OpenAI's merges are read.
"""
import argparse
import inspect
import json
import os
import shutil
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

SEED = 20261127
IMAGE_SIZE, PATCH = 224, 32
VISION_WIDTH, VISION_LAYERS, VISION_HEADS = 768, 12, 12
TEXT_WIDTH, TEXT_LAYERS, TEXT_HEADS = 512, 12, 8
VOCAB, CONTEXT, EMBED = 49408, 77, 512
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
SOT, EOT = 49406, 49407
DEFAULT_OUT = "/tmp/vit-b-32-random"
HERE = os.path.dirname(os.path.abspath(__file__))
MERGES = os.environ.get("TRUSS_CLIP_MERGES") or os.path.normpath(
    os.path.join(HERE, "..", "..", "shared", "clip-vocab", "bpe_simple_vocab_16e6.txt.gz"))
SIZE = "b32"
SIZES = {
    "b32": dict(VISION_WIDTH=768, VISION_LAYERS=12, VISION_HEADS=12, TEXT_WIDTH=512, TEXT_LAYERS=12, TEXT_HEADS=8, EMBED=512),
    "tiny": dict(VISION_WIDTH=64, VISION_LAYERS=2, VISION_HEADS=2, TEXT_WIDTH=64, TEXT_LAYERS=2, TEXT_HEADS=2, EMBED=64),
}


def configure(size):
    """Selects the widths and depths build_model() uses ("b32", the default, or "tiny")."""
    global SIZE, VISION_WIDTH, VISION_LAYERS, VISION_HEADS, TEXT_WIDTH, TEXT_LAYERS, TEXT_HEADS, EMBED
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {sorted(SIZES)}")
    SIZE = size
    d = SIZES[size]
    VISION_WIDTH, VISION_LAYERS, VISION_HEADS = d["VISION_WIDTH"], d["VISION_LAYERS"], d["VISION_HEADS"]
    TEXT_WIDTH, TEXT_LAYERS, TEXT_HEADS, EMBED = d["TEXT_WIDTH"], d["TEXT_LAYERS"], d["TEXT_HEADS"], d["EMBED"]


# ---- openai/CLIP clip/model.py (ViT branch), unchanged in structure -------------------------------------------

class LayerNorm(nn.LayerNorm):
    """As openai/CLIP: computes in fp32 whatever the input type (a no-op cast for fp32)."""

    def forward(self, x):
        orig = x.dtype
        return super().forward(x.type(torch.float32)).type(orig)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, attn_mask=None):
        super().__init__()
        # Sequence-first, as the original: this also keeps torch off MHA's fused fast path, so the export is plain
        # MatMul/Softmax and the baseline times the same code the original runs.
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, d_model * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(d_model * 4, d_model)),
        ]))
        self.ln_2 = LayerNorm(d_model)

    def forward(self, x, attn_mask=None):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads):
        super().__init__()
        self.width, self.layers = width, layers
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x, attn_mask=None):
        for blk in self.resblocks:
            x = blk(x, attn_mask)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads, output_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1)
        x = x + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = x.permute(1, 0, 2)
        x = self.transformer(x)
        x = x.permute(1, 0, 2)
        x = self.ln_post(x[:, 0, :])
        return x @ self.proj


class CLIP(nn.Module):
    def __init__(self):
        super().__init__()
        self.visual = VisionTransformer(IMAGE_SIZE, PATCH, VISION_WIDTH, VISION_LAYERS, VISION_HEADS, EMBED)
        self.transformer = Transformer(TEXT_WIDTH, TEXT_LAYERS, TEXT_HEADS)
        self.token_embedding = nn.Embedding(VOCAB, TEXT_WIDTH)
        self.positional_embedding = nn.Parameter(torch.empty(CONTEXT, TEXT_WIDTH))
        self.ln_final = LayerNorm(TEXT_WIDTH)
        self.text_projection = nn.Parameter(torch.empty(TEXT_WIDTH, EMBED))
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))
        mask = torch.empty(CONTEXT, CONTEXT)
        mask.fill_(float("-inf"))
        mask.triu_(1)
        self.register_buffer("attn_mask", mask, persistent=False)
        self.initialize_parameters()

    def initialize_parameters(self):
        """openai/CLIP's CLIP.initialize_parameters, so activations have realistic scales (no NaN/inf paths)."""
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        for tr in (self.transformer, self.visual.transformer):
            proj_std = (tr.width ** -0.5) * ((2 * tr.layers) ** -0.5)
            attn_std = tr.width ** -0.5
            fc_std = (2 * tr.width) ** -0.5
            for blk in tr.resblocks:
                nn.init.normal_(blk.attn.in_proj_weight, std=attn_std)
                nn.init.normal_(blk.attn.out_proj.weight, std=proj_std)
                nn.init.normal_(blk.mlp.c_fc.weight, std=fc_std)
                nn.init.normal_(blk.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=TEXT_WIDTH ** -0.5)

    @property
    def dtype(self):
        """fp32, or fp16 after convert_weights_to_fp16 (as openai/CLIP's CLIP.dtype)."""
        return self.visual.conv1.weight.dtype

    def encode_image(self, image):
        # The casts below happen only for an fp16 model; an fp32 model traces exactly as before (no Cast nodes).
        if image.dtype != self.dtype:
            image = image.type(self.dtype)
        return self.visual(image)

    def encode_text(self, text):
        # Slicing by the actual length is the identity at 77 (the original's only length) and lets the ONNX graph
        # accept shorter, unpadded rows: attention is causal and pooling reads the EOT position.
        n = text.shape[1]
        x = self.token_embedding(text)
        if x.dtype != self.dtype:
            x = x.type(self.dtype)
        pos = self.positional_embedding[:n]
        x = x + (pos if pos.dtype == x.dtype else pos.type(x.dtype))
        x = x.permute(1, 0, 2)
        mask = self.attn_mask[:n, :n]
        x = self.transformer(x, mask if mask.dtype == x.dtype else mask.type(x.dtype))
        x = x.permute(1, 0, 2)
        x = self.ln_final(x)
        # EOT has the highest id; argmax on int32 exports as a universally supported ArgMax.
        x = x[torch.arange(x.shape[0]), text.to(torch.int32).argmax(dim=-1)]
        return x @ self.text_projection


class VisionExport(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        return self.m.encode_image(pixel_values)


class TextExport(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m.encode_text(input_ids)


class Float32Output(nn.Module):
    """An fp16 tower with a float32 output (the input is cast inside encode_image/encode_text)."""

    def __init__(self, tower):
        super().__init__()
        self.tower = tower

    def forward(self, x):
        return self.tower(x).float()


def convert_weights_to_fp16(model):
    """openai/CLIP's convert_weights: Conv/Linear and attention weights plus the two projections in fp16;
    LayerNorm, embeddings and the logit scale stay fp32 (LayerNorm computes in fp32 anyway)."""
    def convert(layer):
        if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            layer.weight.data = layer.weight.data.half()
            if layer.bias is not None:
                layer.bias.data = layer.bias.data.half()
        if isinstance(layer, nn.MultiheadAttention):
            for name in ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k", "bias_v"]:
                tensor = getattr(layer, name, None)
                if tensor is not None:
                    tensor.data = tensor.data.half()
        for name in ["text_projection", "proj"]:
            tensor = getattr(layer, name, None)
            if isinstance(tensor, torch.Tensor):
                tensor.data = tensor.data.half()
    model.apply(convert)
    return model


def onnx_export(module, args, path, **kwargs):
    """torch.onnx.export with the TorchScript exporter: torch >= 2.9 defaults to the dynamo exporter, whose handling of
    dynamic_axes differs; passing dynamo=False keeps every torch version on the path these files were made with."""
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    torch.onnx.export(module, args, path, opset_version=17, do_constant_folding=True, **kwargs)


# ---- deterministic construction and fingerprint -----------------------------------------------------------------

def build_model():
    """The module both the export and the PyTorch baseline use: same seed, same CPU RNG stream, same weights."""
    torch.manual_seed(SEED)
    return CLIP().eval()


def reference_pixels(batch=1):
    """A fixed, image-like input: a smooth ramp in normalized units."""
    n = batch * 3 * IMAGE_SIZE * IMAGE_SIZE
    return torch.linspace(-1.5, 1.5, n, dtype=torch.float32).reshape(batch, 3, IMAGE_SIZE, IMAGE_SIZE)


# "a photo of a cat." with OpenAI's merges: SOT a photo of a cat . EOT (checked by tools/python_baseline.py's tokenizer).
REFERENCE_IDS = [SOT, 320, 1125, 539, 320, 2368, 269, EOT]


def fingerprint(model):
    params = list(model.parameters())
    return {
        "parameters": int(sum(p.numel() for p in params)),
        "visual_parameters": int(sum(p.numel() for p in model.visual.parameters())),
        "abs_sum": float(sum(p.detach().double().abs().sum().item() for p in params)),
    }


def reference_outputs(model):
    with torch.inference_mode():
        image = model.encode_image(reference_pixels())[0]
        short = model.encode_text(torch.tensor([REFERENCE_IDS]))[0]
        padded = torch.zeros(1, CONTEXT, dtype=torch.long)
        padded[0, :len(REFERENCE_IDS)] = torch.tensor(REFERENCE_IDS)
        full = model.encode_text(padded)[0]
    return {
        "pixels": "torch.linspace(-1.5, 1.5, 3*224*224).reshape(1,3,224,224)",
        "image_embeds": [float(v) for v in image],
        "input_ids": REFERENCE_IDS,
        "text_embeds": [float(v) for v in short],
        "text_embeds_padded77_max_abs_diff": float((full - short).abs().max()),
    }


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def export_towers(vision, text, out, suffix, pixels, ids):
    """The three graphs (dynamic text, text fixed at 77, vision) plus the ctx77 vision symlink, for one precision."""
    vpath = os.path.join(out, "onnx", f"vision_model{suffix}.onnx")
    tpath = os.path.join(out, "onnx", f"text_model{suffix}.onnx")
    t77path = os.path.join(out, "onnx", f"text_model_ctx77{suffix}.onnx")
    v77path = os.path.join(out, "onnx", f"vision_model_ctx77{suffix}.onnx")
    with torch.no_grad():
        onnx_export(vision, (pixels,), vpath, input_names=["pixel_values"], output_names=["image_embeds"],
                    dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
        onnx_export(text, (ids,), tpath, input_names=["input_ids"], output_names=["text_embeds"],
                    dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "text_embeds": {0: "batch"}})
        # Variant "ctx77": the text graph fixed at [batch, 77], so the engine pads every prompt to 77 tokens and
        # computes exactly what openai/CLIP computes (the like-for-like end-to-end comparison). The image tower
        # is the same file (a symlink: variants name both towers).
        onnx_export(text, (ids,), t77path, input_names=["input_ids"], output_names=["text_embeds"],
                    dynamic_axes={"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}})
    if os.path.lexists(v77path):
        os.remove(v77path)
    os.symlink(os.path.basename(vpath), v77path)
    import onnx
    for p in (vpath, tpath, t77path):
        # A path check (not the in-memory one) handles files of any size; these are 350 and 250 MB.
        onnx.checker.check_model(p)
        print(f"  {os.path.relpath(p, out)}: {os.path.getsize(p) / 1e6:.1f} MB", flush=True)


def export_fp16(out, model=None):
    """The fp16 variant, exported on the GPU (CPU fp16 kernels are incomplete in torch, so tracing needs CUDA)."""
    if not torch.cuda.is_available():
        sys.exit("--fp16 needs CUDA: torch's CPU kernels cannot run this model in fp16, and export traces it")
    t0 = time.time()
    if model is None:
        ref_path = os.path.join(out, "torch_reference.json")
        if not os.path.exists(ref_path):
            sys.exit(f"{ref_path} not found: export the fp32 model first")
        ref = json.load(open(ref_path))
        configure(ref.get("size", "b32"))
        model = build_model()
        fp = fingerprint(model)
        if ref["seed"] != SEED or ref["fingerprint"]["parameters"] != fp["parameters"] or \
                abs(ref["fingerprint"]["abs_sum"] - fp["abs_sum"]) > 1e-6 * fp["abs_sum"]:
            sys.exit(f"{ref_path} does not describe the model this script builds: re-export the fp32 model")
    model = convert_weights_to_fp16(model).cuda().eval()
    ids = torch.zeros(2, CONTEXT, dtype=torch.long)
    ids[:, 0], ids[:, 5] = SOT, EOT
    export_towers(Float32Output(VisionExport(model)), Float32Output(TextExport(model)), out, "_fp16",
                  reference_pixels(2).cuda(), ids.cuda())
    print(f"exported the fp16 variant to {out} in {time.time() - t0:.1f} s", flush=True)


def export(out):
    t0 = time.time()
    model = build_model()
    fp = fingerprint(model)
    print(f"built ViT-B/32-shaped CLIP from seed {SEED}: {fp['parameters']:,} parameters "
          f"({fp['visual_parameters']:,} visual) in {time.time() - t0:.1f} s", flush=True)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    ids = torch.zeros(2, CONTEXT, dtype=torch.long)
    ids[:, 0], ids[:, 5] = SOT, EOT
    export_towers(VisionExport(model), TextExport(model), out, "", reference_pixels(2), ids)

    write_json(os.path.join(out, "config.json"), {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "_comment": "Random weights with ViT-B/32's exact shapes (tools/export_vit_b32_random.py), for speed "
                    "benchmarks only: its predictions mean nothing.",
        "projection_dim": EMBED,
        "logit_scale": float(np.log(100.0)),
        "text_config": {"max_position_embeddings": CONTEXT, "vocab_size": VOCAB, "bos_token_id": SOT,
                        "eos_token_id": EOT, "pad_token_id": 0, "hidden_size": TEXT_WIDTH,
                        "num_hidden_layers": TEXT_LAYERS, "num_attention_heads": TEXT_HEADS,
                        "intermediate_size": 4 * TEXT_WIDTH, "hidden_act": "quick_gelu"},
        "vision_config": {"image_size": IMAGE_SIZE, "patch_size": PATCH, "num_channels": 3,
                          "hidden_size": VISION_WIDTH, "num_hidden_layers": VISION_LAYERS,
                          "num_attention_heads": VISION_HEADS, "intermediate_size": 4 * VISION_WIDTH,
                          "hidden_act": "quick_gelu"},
    })
    write_json(os.path.join(out, "preprocessor_config.json"), {
        "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": list(MEAN), "image_std": list(STD), "image_processor_type": "CLIPImageProcessor",
        "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": IMAGE_SIZE},
    })
    shutil.copyfile(MERGES, os.path.join(out, "bpe_simple_vocab_16e6.txt.gz"))
    write_json(os.path.join(out, "torch_reference.json"), {"seed": SEED, "size": SIZE, "shapes": SIZES[SIZE],
                                                            "torch": torch.__version__,
                                                            "fingerprint": fp, **reference_outputs(model)})
    print(f"exported to {out} in {time.time() - t0:.1f} s", flush=True)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default=DEFAULT_OUT)
    ap.add_argument("--size", choices=sorted(SIZES), default="b32")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--fp16", action="store_true", help="also export the fp16 variant (needs CUDA)")
    group.add_argument("--fp16-only", action="store_true", help="add the fp16 variant to an existing export")
    args = ap.parse_args()
    if args.fp16_only:
        export_fp16(args.out)
        return
    configure(args.size)
    model = export(args.out)
    if args.fp16:
        export_fp16(args.out, model)


if __name__ == "__main__":
    main()
