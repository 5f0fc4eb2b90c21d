#!/usr/bin/python3
"""The Python pipeline Truss.Clip replaces, timed stage by stage on this machine.

What runs is openai/CLIP's inference path: Pillow decode, `_transform` (Resize shortest side BICUBIC, CenterCrop,
convert RGB, ToTensor, Normalize; torchvision's own transforms when importable, else an exact mirror of their PIL
path), `simple_tokenizer.py`'s algorithm (ported below, with the `regex` module; ftfy is not packaged for Debian,
so `fix_text` is skipped, which only makes this baseline faster), `clip.tokenize` padding to 77, PyTorch eager
forward on the ViT-B/32-shaped model rebuilt from the seed in tools/export_vit_b32_random.py (`torch.inference_mode()`),
and the softmax of `logit_scale * cosine`.

Each stage prints one JSON line: {"stage": ..., "median_ms": ..., "p10_ms": ..., "p90_ms": ..., "n": ..., ...}.
Timed per core: preprocessing and tokenization run with torch.set_num_threads(1) (Pillow is single-threaded anyway);
forward passes and the end-to-end classify with torch.set_num_threads(2), the machine's core count.

Usage: /usr/bin/python3 tools/python_baseline.py --images DIR [--model DIR] [--quick]
         [--device cpu|cuda] [--vision-batches 1,8] [--tf32 default|off|on] [--tf32-compare] [--fp16]
  DIR holds scene_1920x1080.jpg, scene_640x480.png and scene_224x224.jpg (bench/run-all.sh prepares them).

--device cuda (bench/gpu/run.sh) runs the model on the GPU: the towers' timings include copying the input to the GPU
and the output back (as ONNX Runtime's do), every timed call ends with torch.cuda.synchronize(), and decoding,
preprocessing and tokenization stay on the CPU as in the replaced server. --tf32 sets torch.backends' TF32 switches
for matmul and cuDNN (default: leave torch's defaults). --tf32-compare also times the towers with TF32 allowed
(stages suffixed _tf32), --fp16 under torch.autocast(float16) (stages suffixed _fp16autocast). The model's size
(ViT-B/32, or the tiny plumbing model) is read from the export's torch_reference.json.
"""
import argparse
import contextlib
import gzip
import html
import io
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import PIL
import PIL.features
import regex as re
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_vit_b32_random as vit  # noqa: E402  (same module definition and seed as the ONNX export)

LABELS = ["a photo of a cat", "a photo of a dog", "a photo of a bird", "a photo of a car", "a photo of a tree"]


# ---- openai/CLIP clip/simple_tokenizer.py, ported (ftfy.fix_text is the identity on these ASCII prompts) --------

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    pairs = set()
    prev = word[0]
    for ch in word[1:]:
        pairs.add((prev, ch))
        prev = ch
    return pairs


def basic_clean(text):
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    return re.sub(r"\s+", " ", text).strip()


class SimpleTokenizer:
    def __init__(self, bpe_path):
        self.byte_encoder = bytes_to_unicode()
        merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")
        merges = merges[1:49152 - 256 - 2 + 1]
        merges = [tuple(m.split()) for m in merges]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab]
        for merge in merges:
            vocab.append("".join(merge))
        vocab.extend(["<|startoftext|>", "<|endoftext|>"])
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                              re.IGNORECASE)

    def clear_cache(self):
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        text = whitespace_clean(basic_clean(text)).lower()
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.encoder[bpe_token] for bpe_token in self.bpe(token).split(" "))
        return bpe_tokens


def clip_tokenize(tok, texts, context_length=77):
    """clip.tokenize(texts, context_length, truncate=True): a zero-padded int64 [n, 77] tensor."""
    sot, eot = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"]
    all_tokens = [[sot] + tok.encode(text) + [eot] for text in texts]
    result = torch.zeros(len(all_tokens), context_length, dtype=torch.long)
    for i, tokens in enumerate(all_tokens):
        if len(tokens) > context_length:
            tokens = tokens[:context_length]
            tokens[-1] = eot
        result[i, :len(tokens)] = torch.tensor(tokens)
    return result


# ---- openai/CLIP clip.py `_transform` -------------------------------------------------------------------------

def make_transform(n_px=224):
    try:
        from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor
        return "torchvision", Compose([
            Resize(n_px, interpolation=InterpolationMode.BICUBIC),
            CenterCrop(n_px),
            lambda image: image.convert("RGB"),
            ToTensor(),
            Normalize(vit.MEAN, vit.STD),
        ])
    except ImportError:
        mean = torch.tensor(vit.MEAN).view(3, 1, 1)
        std = torch.tensor(vit.STD).view(3, 1, 1)

        def transform(img):   # torchvision 0.14's PIL path, step by step
            w, h = img.size
            short, long = (w, h) if w <= h else (h, w)
            if short != n_px:
                new_long = int(n_px * long / short)
                ow, oh = (n_px, new_long) if w <= h else (new_long, n_px)
                img = img.resize((ow, oh), Image.BICUBIC)
            w, h = img.size
            top, left = int(round((h - n_px) / 2.0)), int(round((w - n_px) / 2.0))
            img = img.crop((left, top, left + n_px, top + n_px)).convert("RGB")
            t = torch.from_numpy(np.array(img, np.uint8, copy=True)).view(n_px, n_px, 3).permute(2, 0, 1).contiguous()
            return t.float().div(255).sub_(mean).div_(std)
        return "mirror", transform


# ---- timing -----------------------------------------------------------------------------------------------------

def timed(fn, n, warmup=1, sync=None):
    """Median of n calls of fn after warmup calls; sync (torch.cuda.synchronize on a GPU) ends every call, so a
    sample covers the GPU's work and not only its launch."""
    if sync is not None:
        inner = fn

        def fn():
            result = inner()
            sync()
            return result
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {"median_ms": statistics.median(samples), "p10_ms": samples[int(0.1 * (n - 1))],
            "p90_ms": samples[int(0.9 * (n - 1) + 0.5)], "n": n}


def emit(stage, stats, **extra):
    print(json.dumps({"stage": stage, **{k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()},
                      **extra}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--model", default=vit.DEFAULT_OUT, help="the export folder, for its torch_reference.json")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the model runs")
    ap.add_argument("--vision-batches", default="1,8", help="image tower batch sizes, e.g. 1,8,32")
    ap.add_argument("--tf32", choices=["default", "off", "on"], default="default",
                    help="torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32")
    ap.add_argument("--tf32-compare", action="store_true", help="also time the towers with TF32 on (CUDA)")
    ap.add_argument("--fp16", action="store_true", help="also time the towers and classify under fp16 autocast (CUDA)")
    args = ap.parse_args()
    q = 4 if args.quick else 1
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("--device cuda: torch.cuda.is_available() is False (CPU-only torch build, or no usable GPU)")
    if (args.fp16 or args.tf32_compare) and not cuda:
        sys.exit("--fp16 and --tf32-compare need --device cuda")
    if args.tf32 != "default":
        torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
        torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    sync = torch.cuda.synchronize if cuda else None
    vision_batches = [int(b) for b in args.vision_batches.split(",")]

    transform_kind, transform = make_transform()
    gpu = {}
    if cuda:
        gpu = dict(gpu=torch.cuda.get_device_name(dev), torch_cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), matmul_tf32=torch.backends.cuda.matmul.allow_tf32,
                   cudnn_tf32=torch.backends.cudnn.allow_tf32)
    emit("environment", {}, python=platform.python_version(), torch=torch.__version__, pillow=PIL.__version__,
         numpy=np.__version__, transform=transform_kind,
         libjpeg_turbo=bool(PIL.features.check_feature("libjpeg_turbo")), device=args.device, **gpu)

    # Preprocessing per core: decode from bytes in memory (as the server decodes a request body) + _transform.
    torch.set_num_threads(1)
    files = {"jpeg_1920x1080": "scene_1920x1080.jpg", "png_640x480": "scene_640x480.png", "jpeg_224x224": "scene_224x224.jpg"}
    counts = {"jpeg_1920x1080": 40, "png_640x480": 60, "jpeg_224x224": 200}
    for key, name in files.items():
        data = open(os.path.join(args.images, name), "rb").read()
        emit(f"preprocess_{key}", timed(lambda: transform(Image.open(io.BytesIO(data))), max(5, counts[key] // q), warmup=3),
             bytes=len(data))
    # Decode alone (libjpeg-turbo via Pillow), to split the 1080p number into decode and the rest.
    data = open(os.path.join(args.images, files["jpeg_1920x1080"]), "rb").read()
    emit("decode_jpeg_1920x1080", timed(lambda: Image.open(io.BytesIO(data)).load(), max(5, 40 // q), warmup=3))

    # Tokenization: one prompt with the BPE cache warm (the original caches per word) and cold, and
    # clip.tokenize of the 5 labels.
    tok = SimpleTokenizer(vit.MERGES)
    ids = [tok.encoder["<|startoftext|>"]] + tok.encode("a photo of a cat.") + [tok.encoder["<|endoftext|>"]]
    assert ids == vit.REFERENCE_IDS, f"tokenizer port disagrees with the reference ids: {ids}"
    emit("tokenize_prompt_cached", timed(lambda: clip_tokenize(tok, ["a photo of a cat"]), 2000 // q, warmup=10))

    def cold():
        tok.clear_cache()
        clip_tokenize(tok, ["a photo of a cat"])
    emit("tokenize_prompt_uncached", timed(cold, 500 // q, warmup=5))
    emit("tokenize_5_labels_cached", timed(lambda: clip_tokenize(tok, LABELS), 1000 // q, warmup=10))

    # The model: rebuilt from the export's seed; the fingerprint proves these are the weights in the ONNX files.
    torch.set_num_threads(2)
    ref_path = os.path.join(args.model, "torch_reference.json")
    ref = json.load(open(ref_path)) if os.path.exists(ref_path) else None
    vit.configure(ref.get("size", "b32") if ref else "b32")
    t = time.perf_counter()
    model = vit.build_model()
    fp = vit.fingerprint(model)
    same = None
    if ref is not None:
        with torch.inference_mode():
            image = model.encode_image(vit.reference_pixels())[0]
        same = (ref["seed"] == vit.SEED and ref["fingerprint"]["parameters"] == fp["parameters"]
                and abs(ref["fingerprint"]["abs_sum"] - fp["abs_sum"]) < 1e-6 * fp["abs_sum"]
                and float((image - torch.tensor(ref["image_embeds"])).abs().max()) < 1e-4)
        if not same:
            sys.exit(f"the rebuilt model does not match {ref_path}: rerun tools/export_vit_b32_random.py")
    build_ms = (time.perf_counter() - t) * 1000
    on_device = {}
    if cuda:
        model = model.to(dev)
        if ref is not None:
            with torch.inference_mode():
                image = model.encode_image(vit.reference_pixels().to(dev))[0].cpu()
            on_device["device_image_max_abs_diff"] = float((image - torch.tensor(ref["image_embeds"])).abs().max())
    emit("model_build", {"median_ms": build_ms, "n": 1}, parameters=fp["parameters"],
         abs_sum=fp["abs_sum"], matches_export=same, size=vit.SIZE, **on_device)

    # Inputs start in host memory and outputs end there, on both sides (ONNX Runtime's towers copy them too).
    pixels = {b: vit.reference_pixels(b) for b in vision_batches}
    texts = {1: clip_tokenize(tok, LABELS[:1]), 8: clip_tokenize(tok, (LABELS * 2)[:8]), 5: clip_tokenize(tok, LABELS)}

    def reps(cpu_n, cuda_n, floor):
        """The CPU suite's repetitions unchanged; more on a GPU, where a call takes milliseconds."""
        return max(floor, (cuda_n if cuda else cpu_n) // q)

    warm = 10 if cuda else None
    vision_reps = {1: (12, 100, 3), 8: (5, 50, 2)}

    def towers(suffix, batches, text_batches):
        for b in batches:
            cpu_n, cuda_n, floor = vision_reps.get(b, (3, 30, 2))
            emit(f"vision_forward_b{b}{suffix}",
                 timed(lambda b=b: model.encode_image(pixels[b].to(dev)).cpu(), reps(cpu_n, cuda_n, floor),
                       warmup=warm or (2 if b == 1 else 1), sync=sync))
        for b in text_batches:
            emit(f"text_forward_b{b}_ctx77{suffix}",
                 timed(lambda b=b: model.encode_text(texts[b].to(dev)).cpu(), reps(*((12, 100, 3) if b == 1 else (5, 50, 2))),
                       warmup=warm or (2 if b == 1 else 1), sync=sync))

    # End to end, as the replaced truss does per request: decode + preprocess one photo, tokenize and encode the
    # 5 labels (no label cache), encode the image, softmax(100 * cosine).
    data = open(os.path.join(args.images, files["jpeg_1920x1080"]), "rb").read()
    logit_scale = model.logit_scale.exp().clamp(max=100)   # 100 for this init, as for OpenAI checkpoints

    def classify():
        image = transform(Image.open(io.BytesIO(data))).unsqueeze(0).to(dev)
        text = clip_tokenize(tok, LABELS).to(dev)
        image_features = model.encode_image(image)
        text_features = model.encode_text(text)
        image_features = image_features / image_features.norm(dim=-1, keepdim=True)
        text_features = text_features / text_features.norm(dim=-1, keepdim=True)
        return (logit_scale * image_features @ text_features.t()).softmax(dim=-1).cpu()

    precisions = [("", contextlib.nullcontext)]
    if args.fp16:
        precisions.append(("_fp16autocast", lambda: torch.autocast(device_type="cuda", dtype=torch.float16)))
    with torch.inference_mode():
        for suffix, context in precisions:
            with context():
                towers(suffix, vision_batches, (1, 8, 5))
                probs = classify()
                assert abs(float(probs.float().sum()) - 1) < (1e-2 if suffix else 1e-4)
                emit(f"classify_1080p_5_labels{suffix}", timed(classify, reps(10, 50, 3), warmup=warm or 1, sync=sync))
        if args.tf32_compare:
            saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            towers("_tf32", vision_batches, (1, 8))
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


if __name__ == "__main__":
    main()
