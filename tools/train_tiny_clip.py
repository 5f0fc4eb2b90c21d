#!/usr/bin/python3
"""Train and export Truss.Clip's embedded default model: a tiny CLIP that knows coloured shapes.

Purpose
    Real CLIP weights cannot be downloaded on our build machines, yet the server must ship a default model that
    really classifies. This script trains a small CLIP of OpenAI's architecture family from scratch on synthetic
    images ("a red circle", "a blue square", ...) and exports it in the split HF/Xenova ONNX layout that the C#
    engine loads, together with a CLIP-format BPE merges file, HF-style JSON sidecars, sample images and an
    end-to-end torch reference (reference.json) for parity tests of the C# preprocessing, tokenizer and engine.

Usage (Debian's interpreter, not a pyenv one):
    apt-get install -y python3-torch python3-onnx python3-pil python3-numpy python3-regex libopenblas0-openmp
    (python3-regex gives the exact \\p{L}/\\p{N} pre-tokenizer regex, plain `re` is equivalent for ASCII text;
    libopenblas0-openmp matters for speed only: Debian's torch otherwise runs on the reference BLAS, ~8x slower)
    /usr/bin/python3 tools/train_tiny_clip.py                 # train, evaluate, export to data/tiny-clip
    /usr/bin/python3 tools/train_tiny_clip.py --steps 50 --out /tmp/tc --samples /tmp/tc/samples   # smoke run
    /usr/bin/python3 tools/train_tiny_clip.py --check-tokenizer ../shared/clip-vocab/bpe_simple_vocab_16e6.txt.gz \\
        ../shared/clip-reference/tokenizer_reference.json    # check the SimpleTokenizer port against OpenAI's ids

Runtime
    About 7 minutes on 2 idle CPU cores (torch.set_num_threads(2)); up to ~18 minutes when the cores are shared
    with parallel builds. The figure of the committed run is in MODEL_CARD.md.

Outputs (under --out, default data/tiny-clip; samples under --samples, default data/samples)
    onnx/vision_model.onnx   pixel_values f32 [batch,3,S,S] -> image_embeds f32 [batch,D] (not normalized)
    onnx/text_model.onnx     input_ids i64 [batch,seq] -> text_embeds f32 [batch,D] (not normalized; pooled at
                             argmax(ids) = the end token, so padding with 0 after it is safe)
    bpe_simple_vocab.txt     merges in OpenAI's bpe_simple_vocab_16e6.txt format (header line, then "a b" per
                             line, no trailing newline)
    config.json, preprocessor_config.json, tokenizer_config.json   HF-style sidecars
    reference.json           torch outputs for the sample images and every label (see write_reference)
    MODEL_CARD.md            how the model was made and what it knows; filled with this run's numbers
    samples/*.png            three rendered, non-square sample images

Design notes
    * Preprocessing is exactly the server's (openai/CLIP `_transform`): Pillow BICUBIC resize of the shortest side
      to S (long side int(S*long/short)), center crop with torchvision's round-half-even offsets, RGB, /255,
      OpenAI mean/std. Every training and evaluation image goes through `preprocess()` below.
    * Because of that center crop, the part of a non-square canvas outside its central min(w,h) square is thrown
      away. The renderer therefore keeps the whole shape inside the central square (with a small margin) and only
      fills the rest of the canvas with background, so no training image loses its shape to the crop.
    * Contrastive loss: batches are drawn at random, so colour x shape pairs repeat inside a batch. Instead of
      treating a repeated pair as a negative (a false negative), the loss uses a label-aware target: for each
      image (and each caption) the target distribution is uniform over all items of the batch with the same
      colour x shape pair. With distinct pairs this is exactly CLIP's symmetric InfoNCE.
    * The text tower is trained with a context of TRAIN_CONTEXT tokens, the export accepts any length up to 77.
      With a causal mask and pooling at the end token, the pooled output does not depend on anything after the
      end token, so a 77-long zero-padded input gives the same embedding as the short one.
    * Reproducible: seeds random, numpy and torch; data order is a pure function of the seed; torch runs with
      deterministic algorithms on 2 threads. Two runs with the same seed give the same weights.
"""
import argparse
import colorsys
import hashlib
import html
import json
import math
import os
import random
import re
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageDraw

try:
    import regex as _re_mod  # the module openai/CLIP uses (\p{L}, \p{N})
    HAVE_REGEX = True
except ImportError:  # pragma: no cover - identical for ASCII text
    _re_mod = re
    HAVE_REGEX = False

# ------------------------------------------------------------------------------------------------------------
# Vocabulary of the task
# ------------------------------------------------------------------------------------------------------------

# Colours: HSV ranges (hue in degrees, saturation, value). The ranges are kept apart so colour names stay
# unambiguous after jitter (orange never drifts into red or yellow, purple never into blue).
COLOURS = OrderedDict([
    ("red",    ((-8, 7),    (0.80, 1.00), (0.75, 1.00))),
    ("orange", ((24, 34),   (0.85, 1.00), (0.92, 1.00))),
    ("yellow", ((50, 60),   (0.80, 1.00), (0.90, 1.00))),
    ("green",  ((105, 135), (0.70, 1.00), (0.50, 0.85))),
    ("blue",   ((212, 232), (0.75, 1.00), (0.60, 1.00))),
    ("purple", ((272, 290), (0.60, 0.90), (0.45, 0.80))),
])
SHAPES = ["circle", "square", "triangle", "star", "cross", "crescent"]
PAIRS = [(c, s) for c in COLOURS for s in SHAPES]          # label index = colour_index * len(SHAPES) + shape_index

TEMPLATES = [
    "a {c} {s}",
    "a {c} {s}.",
    "{c} {s}",
    "the {c} {s}",
    "a photo of a {c} {s}.",
    "a photo of the {c} {s}.",
    "a picture of a {c} {s}",
    "an image of a {c} {s}",
    "a drawing of a {c} {s}.",
    "a {c} {s} on a white background",
    "a {c} {s} shape",
    "a {s} that is {c}",
    "a {s} coloured {c}",
    "a photo of a {s}, {c}.",
]
EVAL_PROMPTS = {"bare": "{}", "photo": "a photo of a {}."}   # label text is "{colour} {shape}" with "a " in front

IMAGE_MEAN = (0.48145466, 0.4578275, 0.40821073)
IMAGE_STD = (0.26862954, 0.26130258, 0.27577711)

# ------------------------------------------------------------------------------------------------------------
# Hyper-parameters (the committed model uses these defaults)
# ------------------------------------------------------------------------------------------------------------
IMAGE_SIZE = 64
PATCH = 8
VISION_WIDTH, VISION_LAYERS, VISION_HEADS = 64, 3, 4
TEXT_WIDTH, TEXT_LAYERS, TEXT_HEADS = 64, 2, 4
EMBED_DIM = 64
CONTEXT_LENGTH = 77        # exported / config context length (server pads with 0 to this)
TRAIN_CONTEXT = 12         # training pads captions to this many tokens (see the design notes above)


# ------------------------------------------------------------------------------------------------------------
# Tokenizer: OpenAI's SimpleTokenizer (openai/CLIP:clip/simple_tokenizer.py), ported, plus a BPE learner
# ------------------------------------------------------------------------------------------------------------

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
    # openai/CLIP runs ftfy.fix_text first; our captions are plain ASCII, where ftfy is the identity.
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    text = _re_mod.sub(r"\s+", " ", text)
    return text.strip()


if HAVE_REGEX:
    PRETOKENIZE = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
else:
    PRETOKENIZE = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+"""


class SimpleTokenizer:
    """Port of openai/CLIP's SimpleTokenizer reading a merges file in bpe_simple_vocab_16e6.txt format."""

    def __init__(self, merges_text):
        self.byte_encoder = bytes_to_unicode()
        merges = merges_text.split("\n")
        merges = merges[1:49152 - 256 - 2 + 1]            # OpenAI's slice: skip the header, cap the count
        merges = [tuple(m.split()) for m in merges]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab]
        for m in merges:
            vocab.append("".join(m))
        vocab.extend(["<|startoftext|>", "<|endoftext|>"])
        self.vocab = vocab
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.pat = _re_mod.compile(PRETOKENIZE, _re_mod.IGNORECASE)
        self.sot = self.encoder["<|startoftext|>"]
        self.eot = self.encoder["<|endoftext|>"]

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
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
        ids = []
        text = whitespace_clean(basic_clean(text)).lower()
        for token in _re_mod.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return ids

    def tokenize(self, texts, context_length=CONTEXT_LENGTH):
        """clip.tokenize(texts, context_length, truncate=True), as int64."""
        out = torch.zeros(len(texts), context_length, dtype=torch.long)
        for i, t in enumerate(texts):
            ids = self.ids(t, context_length)
            out[i, :len(ids)] = torch.tensor(ids)
        return out

    def ids(self, text, context_length=CONTEXT_LENGTH):
        """SOT + encode(text) + EOT, truncated as clip.tokenize(truncate=True) does; unpadded."""
        ids = [self.sot] + self.encode(text) + [self.eot]
        if len(ids) > context_length:
            ids = ids[:context_length]
            ids[-1] = self.eot
        return ids


def learn_bpe(corpus):
    """Learn CLIP-style byte-level BPE merges from a list of texts.

    Words are split exactly as SimpleTokenizer splits them (clean, lowercase, pre-tokenizer regex, UTF-8 bytes
    through bytes_to_unicode, '</w>' on the last symbol). Pairs are merged greedily by corpus frequency (ties
    broken by the pair's text, so the result is deterministic) until every word of the corpus is one symbol.
    """
    byte_encoder = bytes_to_unicode()
    pat = _re_mod.compile(PRETOKENIZE, _re_mod.IGNORECASE)
    freqs = {}
    for text in corpus:
        text = whitespace_clean(basic_clean(text)).lower()
        for token in _re_mod.findall(pat, text):
            token = "".join(byte_encoder[b] for b in token.encode("utf-8"))
            word = tuple(token[:-1]) + (token[-1] + "</w>",)
            freqs[word] = freqs.get(word, 0) + 1
    words = dict(freqs)
    merges = []
    while True:
        counts = {}
        for word, f in words.items():
            for k in range(len(word) - 1):
                p = (word[k], word[k + 1])
                counts[p] = counts.get(p, 0) + f
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        new_words = {}
        for word, f in words.items():
            out, k = [], 0
            while k < len(word):
                if k < len(word) - 1 and (word[k], word[k + 1]) == best:
                    out.append(word[k] + word[k + 1])
                    k += 2
                else:
                    out.append(word[k])
                    k += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + f
        words = new_words
    return merges


def merges_file_text(merges):
    # Same layout as OpenAI's bpe_simple_vocab_16e6.txt; no trailing newline, so that OpenAI's
    # `split('\n')[1:48895]` yields exactly the merges (a trailing empty line would add an empty vocab entry).
    return "\n".join(['"bpe_simple_vocab.txt#version: 0.2'] + [f"{a} {b}" for a, b in merges])


def caption_corpus():
    corpus = []
    for t in TEMPLATES + list(EVAL_PROMPTS.values()):
        for c, s in PAIRS:
            corpus.append(t.replace("{}", "a {c} {s}").format(c=c, s=s))
    return corpus


# ------------------------------------------------------------------------------------------------------------
# Synthetic images
# ------------------------------------------------------------------------------------------------------------

_NOISE_BANK = None


def noise_bank():
    """A fixed bank of Gaussian noise (seeded) from which each image takes a random window: cheap per image."""
    global _NOISE_BANK
    if _NOISE_BANK is None:
        _NOISE_BANK = np.random.default_rng(1234).standard_normal((480, 480, 3)).astype(np.float32)
    return _NOISE_BANK


def jitter_colour(rng, name):
    (h0, h1), (s0, s1), (v0, v1) = COLOURS[name]
    h = (rng.uniform(h0, h1) % 360.0) / 360.0
    r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(s0, s1), rng.uniform(v0, v1))
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def shape_polygon(shape, cx, cy, r, rot, rng):
    """Vertices of `shape` centred at (cx, cy) with circumradius r, rotated by rot radians (None for circle)."""
    def ring(n, radii, offset=0.0):
        pts = []
        for k in range(n * len(radii)):
            a = rot + offset + 2 * math.pi * k / (n * len(radii))
            rr = radii[k % len(radii)]
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        return pts
    if shape in ("circle", "crescent"):
        return None                           # drawn with ellipses, see render()
    if shape == "square":
        return ring(4, [r], math.pi / 4)
    if shape == "triangle":
        return ring(3, [r], -math.pi / 2)
    if shape == "star":
        return ring(5, [r, r * rng.uniform(0.38, 0.5)], -math.pi / 2)
    if shape == "cross":
        w = r * rng.uniform(0.26, 0.36)       # half arm width; arm half length = r*cos(asin(w/r))
        L = math.sqrt(r * r - w * w)
        base = [(w, L), (w, w), (L, w), (L, -w), (w, -w), (w, -L), (-w, -L), (-w, -w), (-L, -w), (-L, w),
                (-w, w), (-w, L)]
        ca, sa = math.cos(rot), math.sin(rot)
        return [(cx + x * ca - y * sa, cy + x * sa + y * ca) for x, y in base]
    raise ValueError(shape)


def render(rng, colour, shape, size=None):
    """Draw one `colour` `shape` on a light, noisy background of a random (or given) size.

    The shape lies entirely inside the central min(w,h) x min(w,h) square of the canvas, the only region that
    survives the server's Resize(shortest side) + CenterCrop.
    """
    if size is None:
        if rng.random() < 0.25:
            side = rng.randint(48, 400)
            w, h = side, side
        else:
            w, h = rng.randint(48, 400), rng.randint(48, 400)
    else:
        w, h = size
    short = min(w, h)
    # background: light and of low saturation, with an optional linear gradient and Gaussian noise
    bh, bs, bv = rng.random(), rng.uniform(0.0, 0.12), rng.uniform(0.84, 1.0)
    bg = np.array(colorsys.hsv_to_rgb(bh, bs, bv), dtype=np.float32) * 255.0
    img = np.empty((h, w, 3), dtype=np.float32)
    img[:] = bg
    if rng.random() < 0.5:
        gx, gy = rng.uniform(-20, 20), rng.uniform(-20, 20)
        img += (np.linspace(-1, 1, w, dtype=np.float32)[None, :, None] * gx
                + np.linspace(-1, 1, h, dtype=np.float32)[:, None, None] * gy)
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    # the shape, inside the central square (with a margin)
    left, top = (w - short) / 2.0, (h - short) / 2.0
    r = short * rng.uniform(0.20, 0.44)
    margin = 0.04 * short
    cx = left + rng.uniform(r + margin, short - r - margin) if short - 2 * (r + margin) > 0 else left + short / 2
    cy = top + rng.uniform(r + margin, short - r - margin) if short - 2 * (r + margin) > 0 else top + short / 2
    fill = jitter_colour(rng, colour)
    draw = ImageDraw.Draw(canvas)
    pts = shape_polygon(shape, cx, cy, r, rng.uniform(0, 2 * math.pi), rng)
    if shape == "crescent":
        # a disc minus a slightly smaller disc shifted towards the rotation angle
        rot = rng.uniform(0, 2 * math.pi)
        ri, off = r * rng.uniform(0.78, 0.9), r * rng.uniform(0.4, 0.55)
        ix, iy = cx + off * math.cos(rot), cy + off * math.sin(rot)
        mask = Image.new("L", canvas.size, 0)
        mdraw = ImageDraw.Draw(mask)
        mdraw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        mdraw.ellipse([ix - ri, iy - ri, ix + ri, iy + ri], fill=0)
        canvas.paste(fill, (0, 0), mask)
    elif pts is None:
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon(pts, fill=fill)
    # pixel noise over everything
    sigma = rng.uniform(0.0, 10.0)
    if sigma > 0.5:
        bank = noise_bank()
        oy, ox = rng.randint(0, bank.shape[0] - h), rng.randint(0, bank.shape[1] - w)
        noise = bank[oy:oy + h, ox:ox + w]
        arr = np.asarray(canvas, dtype=np.float32) + noise * sigma
        canvas = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
    return canvas


def preprocess_uint8(img, n_px=IMAGE_SIZE):
    """openai/CLIP _transform up to the crop: Pillow BICUBIC shortest side, torchvision center crop, RGB."""
    w, h = img.size
    if w <= h:
        ow, oh = n_px, int(n_px * h / w)
    else:
        ow, oh = int(n_px * w / h), n_px
    if (ow, oh) != (w, h):
        img = img.resize((ow, oh), Image.BICUBIC)
    top = int(round((oh - n_px) / 2.0))
    left = int(round((ow - n_px) / 2.0))
    img = img.crop((left, top, left + n_px, top + n_px)).convert("RGB")
    return np.asarray(img, dtype=np.uint8)


_MEAN = np.array(IMAGE_MEAN, dtype=np.float32)
_STD = np.array(IMAGE_STD, dtype=np.float32)


def normalize_uint8(batch_hwc):
    """uint8 [N,H,W,3] -> float32 [N,3,H,W]: /255 then (x-mean)/std, exactly the server's order."""
    a = batch_hwc.astype(np.float32) / 255.0
    a = (a - _MEAN) / _STD
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def preprocess(img, n_px=IMAGE_SIZE):
    return normalize_uint8(preprocess_uint8(img, n_px)[None])[0]


def draw_dataset(seed, n, desc):
    """n (uint8 crop, label) examples; balanced labels in a seeded, shuffled order."""
    rng = random.Random(seed)
    labels = [k % len(PAIRS) for k in range(n)]
    rng.shuffle(labels)
    out = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    t0 = time.time()
    for k, lab in enumerate(labels):
        c, s = PAIRS[lab]
        out[k] = preprocess_uint8(render(rng, c, s))
        if (k + 1) % 5000 == 0:
            print(f"  {desc}: {k + 1}/{n} images drawn ({time.time() - t0:.0f}s)", flush=True)
    return out, np.array(labels, dtype=np.int64)


# ------------------------------------------------------------------------------------------------------------
# Model: OpenAI CLIP (clip/model.py) layout, scaled down
# ------------------------------------------------------------------------------------------------------------

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)   # sequence-first, as OpenAI's
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, d_model * 4)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(d_model * 4, d_model)),
        ]))
        self.ln_2 = nn.LayerNorm(d_model)

    def forward(self, x, attn_mask=None):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
        x = x + self.mlp(self.ln_2(x))
        return x


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
        self.input_resolution = input_resolution
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        scale = width ** -0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((input_resolution // patch_size) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)                                   # [B, W, g, g]
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)   # [B, g*g, W]
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1)
        x = x + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = x.permute(1, 0, 2)                              # NLD -> LND
        x = self.transformer(x)
        x = x.permute(1, 0, 2)
        x = self.ln_post(x[:, 0, :])
        return x @ self.proj


class TinyCLIP(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.visual = VisionTransformer(IMAGE_SIZE, PATCH, VISION_WIDTH, VISION_LAYERS, VISION_HEADS, EMBED_DIM)
        self.transformer = Transformer(TEXT_WIDTH, TEXT_LAYERS, TEXT_HEADS)
        self.token_embedding = nn.Embedding(vocab_size, TEXT_WIDTH)
        self.positional_embedding = nn.Parameter(torch.empty(CONTEXT_LENGTH, TEXT_WIDTH))
        self.ln_final = nn.LayerNorm(TEXT_WIDTH)
        self.text_projection = nn.Parameter(torch.empty(TEXT_WIDTH, EMBED_DIM))
        self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))
        mask = torch.empty(CONTEXT_LENGTH, CONTEXT_LENGTH)
        mask.fill_(float("-inf"))
        mask.triu_(1)
        self.register_buffer("attn_mask", mask, persistent=False)
        self.initialize_parameters()

    def initialize_parameters(self):   # as openai/CLIP's CLIP.initialize_parameters
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

    def encode_image(self, pixel_values):
        return self.visual(pixel_values)

    def encode_text(self, input_ids):
        L = input_ids.shape[1]
        x = self.token_embedding(input_ids)                  # [B, L, W]
        x = x + self.positional_embedding[:L]
        x = x.permute(1, 0, 2)
        x = self.transformer(x, self.attn_mask[:L, :L])
        x = x.permute(1, 0, 2)
        x = self.ln_final(x)
        # pool at the end token = the highest id (argmax on int32: ids < 2^31, and ArgMax(int32) is universal)
        eot = input_ids.to(torch.int32).argmax(dim=-1)
        x = x[torch.arange(x.shape[0]), eot]
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


# ------------------------------------------------------------------------------------------------------------
# Training and evaluation
# ------------------------------------------------------------------------------------------------------------

def label_aware_loss(logits, labels):
    """Symmetric InfoNCE whose target is uniform over the batch items sharing the colour x shape pair."""
    same = (labels[:, None] == labels[None, :]).float()
    target = same / same.sum(dim=1, keepdim=True)
    li = -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    lt = -(target * F.log_softmax(logits.t(), dim=1)).sum(dim=1).mean()
    return (li + lt) / 2


def label_texts(prompt):
    """The label strings: 'a {colour} {shape}', put through the prompt ('{}' = the bare label)."""
    return [prompt.format(f"a {c} {s}") if prompt == "{}" else prompt.format(f"{c} {s}") for c, s in PAIRS]


@torch.no_grad()
def evaluate(model, tok, images_u8, labels, prompt):
    model.eval()
    texts = label_texts(prompt)
    t = F.normalize(model.encode_text(tok.tokenize(texts)), dim=-1)
    correct, colour_ok, shape_ok = 0, 0, 0
    confusion = np.zeros((len(SHAPES), len(SHAPES)), dtype=np.int64)   # [true shape, predicted shape]
    for k in range(0, len(images_u8), 256):
        im = F.normalize(model.encode_image(normalize_uint8(images_u8[k:k + 256])), dim=-1)
        pred = (model.logit_scale.exp() * im @ t.t()).softmax(dim=-1).argmax(dim=-1).numpy()
        lab = labels[k:k + 256]
        correct += int((pred == lab).sum())
        colour_ok += int((pred // len(SHAPES) == lab // len(SHAPES)).sum())
        shape_ok += int((pred % len(SHAPES) == lab % len(SHAPES)).sum())
        np.add.at(confusion, (lab % len(SHAPES), pred % len(SHAPES)), 1)
    n = len(images_u8)
    return correct / n, colour_ok / n, shape_ok / n, confusion


def train(args, tok):
    print(f"drawing {args.train_images} training images (seed {args.seed}) ...", flush=True)
    t0 = time.time()
    images, labels = draw_dataset(args.seed, args.train_images, "train")
    print(f"  done in {time.time() - t0:.0f}s", flush=True)

    # all captions for every pair, tokenized once
    cap_ids = torch.stack([tok.tokenize([t.format(c=c, s=s) for t in TEMPLATES], TRAIN_CONTEXT) for c, s in PAIRS])
    assert int((cap_ids[:, :, -1] != 0).sum()) == 0, "a caption does not fit TRAIN_CONTEXT"

    torch.manual_seed(args.seed)
    model = TinyCLIP(len(tok.vocab))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters", flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters()
                if not (p.ndim >= 2 and "embedding" not in n) and n != "logit_scale"]
    # The logit scale gets a larger learning rate: with a few thousand steps instead of CLIP's hundreds of
    # thousands it would otherwise stay near its initial 14.3 and keep the softmax needlessly soft.
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0},
                             {"params": [model.logit_scale], "weight_decay": 0.0, "lr": args.lr * 5}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    warmup = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, args.steps - warmup))))

    rng = np.random.default_rng(args.seed)          # data order and caption choice
    order = rng.permutation(len(images))
    pos = 0
    t0 = time.time()
    model.train()
    for step in range(args.steps):
        if pos + args.batch > len(order):
            order, pos = rng.permutation(len(images)), 0
        idx = order[pos:pos + args.batch]
        pos += args.batch
        batch_u8 = images[idx]
        # augmentation: mirror left-right, mirror top-bottom or transpose (every shape class is closed under
        # them, and the crop is square, so this is the same as drawing a mirrored picture)
        flip = rng.integers(0, 4, size=len(idx))
        batch_u8[flip == 1] = batch_u8[flip == 1][:, :, ::-1]      # (images[idx] is already a copy)
        batch_u8[flip == 2] = batch_u8[flip == 2][:, ::-1]
        batch_u8[flip == 3] = batch_u8[flip == 3].transpose(0, 2, 1, 3)
        x = normalize_uint8(batch_u8)
        lab = torch.from_numpy(labels[idx])
        tpl = torch.from_numpy(rng.integers(0, len(TEMPLATES), size=len(idx)))
        ids = cap_ids[lab, tpl]
        im = F.normalize(model.encode_image(x), dim=-1)
        tx = F.normalize(model.encode_text(ids), dim=-1)
        logits = model.logit_scale.exp() * im @ tx.t()
        loss = label_aware_loss(logits, lab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % 100 == 0 or step == args.steps - 1:
            acc = (logits.argmax(1) == lab).float().mean().item()  # vs an in-batch caption of the same pair
            hit = (labels[idx][logits.argmax(1).numpy()] == labels[idx]).mean()
            el = time.time() - t0
            print(f"step {step:5d}/{args.steps} loss {loss.item():.4f} batch-acc {hit:.3f} "
                  f"scale {model.logit_scale.exp().item():6.2f} lr {sched.get_last_lr()[0]:.2e} {el:6.0f}s", flush=True)
    train_seconds = time.time() - t0
    model.eval()
    return model, train_seconds, n_params


# ------------------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------------------

def export_onnx(model, out_dir):
    import onnx
    os.makedirs(os.path.join(out_dir, "onnx"), exist_ok=True)
    vpath = os.path.join(out_dir, "onnx", "vision_model.onnx")
    tpath = os.path.join(out_dir, "onnx", "text_model.onnx")
    dummy_px = torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    dummy_ids = torch.zeros(2, CONTEXT_LENGTH, dtype=torch.long)
    dummy_ids[:, 0] = 1
    dummy_ids[:, 3] = 2
    with torch.no_grad():
        torch.onnx.export(VisionExport(model), (dummy_px,), vpath, input_names=["pixel_values"],
                          output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          opset_version=17, do_constant_folding=True)
        torch.onnx.export(TextExport(model), (dummy_ids,), tpath, input_names=["input_ids"],
                          output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "text_embeds": {0: "batch"}},
                          opset_version=17, do_constant_folding=True)
    for p in (vpath, tpath):
        m = onnx.load(p)
        onnx.checker.check_model(m, full_check=True)
        ops = sorted({n.op_type for n in m.graph.node})
        print(f"  {os.path.relpath(p, out_dir)}: {os.path.getsize(p)} bytes, ops {ops}", flush=True)
    return vpath, tpath


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_sidecars(out_dir, tok, n_merges, logit_scale):
    write_json(os.path.join(out_dir, "config.json"), {
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "_comment": "Truss.Clip tiny CLIP trained by tools/train_tiny_clip.py on synthetic coloured shapes. "
                    "logit_scale is the learned value in log space (as in CLIP checkpoints); logit_scale_exp is "
                    "exp(logit_scale), the multiplier of the cosine similarities. The ONNX graphs return raw "
                    "(unnormalized) embeddings.",
        "projection_dim": EMBED_DIM,
        "logit_scale": logit_scale,
        "logit_scale_exp": math.exp(logit_scale),
        "text_config": {
            "max_position_embeddings": CONTEXT_LENGTH,
            "vocab_size": len(tok.vocab),
            "bos_token_id": tok.sot,
            "eos_token_id": tok.eot,
            "pad_token_id": 0,
            "hidden_size": TEXT_WIDTH,
            "num_hidden_layers": TEXT_LAYERS,
            "num_attention_heads": TEXT_HEADS,
            "intermediate_size": 4 * TEXT_WIDTH,
            "hidden_act": "quick_gelu",
            "bpe_merges": n_merges,
        },
        "vision_config": {
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH,
            "num_channels": 3,
            "hidden_size": VISION_WIDTH,
            "num_hidden_layers": VISION_LAYERS,
            "num_attention_heads": VISION_HEADS,
            "intermediate_size": 4 * VISION_WIDTH,
            "hidden_act": "quick_gelu",
        },
    })
    write_json(os.path.join(out_dir, "preprocessor_config.json"), {
        "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": list(IMAGE_MEAN),
        "image_processor_type": "CLIPImageProcessor",
        "image_std": list(IMAGE_STD),
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": IMAGE_SIZE},
    })
    write_json(os.path.join(out_dir, "tokenizer_config.json"), {
        "tokenizer_class": "CLIPTokenizer",
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "!",
        "do_lower_case": True,
        "model_max_length": CONTEXT_LENGTH,
        "merges_file": "bpe_simple_vocab.txt",
    })


def write_samples(sample_dir):
    specs = [("red", "circle", (320, 240), 101), ("blue", "square", (200, 300), 202),
             ("yellow", "star", (150, 100), 303)]
    os.makedirs(sample_dir, exist_ok=True)
    out = []
    for c, s, size, seed in specs:
        img = render(random.Random(seed), c, s, size=size)
        path = os.path.join(sample_dir, f"{c}_{s}.png")
        img.save(path, optimize=False)
        out.append((path, c, s))
    return out


@torch.no_grad()
def write_reference(out_dir, model, tok, samples, logit_scale):
    """reference.json: torch outputs for the sample images against every label, for parity tests.

    Probabilities use the bare label text as the prompt ('a {colour} {shape}') and the learned logit scale:
    softmax(logit_scale_exp * cos(image_embed, text_embed)) over all labels.
    """
    texts = label_texts("{}")
    ids = tok.tokenize(texts)
    temb = model.encode_text(ids)
    tn = F.normalize(temb, dim=-1)
    scale = math.exp(logit_scale)
    images = []
    for path, c, s in samples:
        img = Image.open(path)
        img.load()
        px = preprocess(img)
        emb = model.encode_image(px[None])
        probs = (scale * F.normalize(emb, dim=-1) @ tn.t()).softmax(dim=-1)[0]
        images.append({
            "file": "data/samples/" + os.path.basename(path),
            "width": img.size[0], "height": img.size[1],
            "expected_label": f"a {c} {s}",
            "top_label": texts[int(probs.argmax())],
            "probs": [round(float(p), 7) for p in probs],
            "image_embeds": [round(float(v), 7) for v in emb[0]],
            "pixel_values_shape": [3, IMAGE_SIZE, IMAGE_SIZE],
            "pixel_values": [round(float(v), 6) for v in px.flatten()],
        })
    ref = {
        "description": "Torch reference of the tiny CLIP for the C# engine. For each sample image: the preprocessed "
                       "pixel_values (CHW, flattened), the raw image_embeds, and probs = softmax(logit_scale_exp * "
                       "cosine) over `labels` (in that order), prompt '{}' i.e. the bare label text. For each "
                       "label: token ids with SOT/EOT, unpadded (pad with 0 to context_length) and the raw "
                       "text_embeds. Suggested tolerance 1e-3 on probs.",
        "prompt": "{}",
        "logit_scale": logit_scale,
        "logit_scale_exp": scale,
        "context_length": CONTEXT_LENGTH,
        "sot_id": tok.sot, "eot_id": tok.eot, "pad_id": 0,
        "labels": texts,
        "label_token_ids": [tok.ids(t) for t in texts],
        "text_embeds": [[round(float(v), 7) for v in e] for e in temb],
        "images": images,
    }
    path = os.path.join(out_dir, "reference.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    for im in images:
        print(f"  {im['file']}: top {im['top_label']!r} p={max(im['probs']):.4f}", flush=True)


MODEL_CARD = """# Truss.Clip tiny CLIP (default embedded model)

A very small CLIP, trained from scratch by `tools/train_tiny_clip.py` on synthetic pictures of coloured shapes.
It is the server's built-in default so that the server classifies out of the box without downloading weights.
It is a demonstration and test model, **not** a general-purpose image classifier.

## How it was made
- Command: `{command}` (Debian's `/usr/bin/python3`, torch {torch_version}, 2 CPU threads)
- Seed: {seed} (training data, initialisation, data order); held-out evaluation seed: {eval_seed}
- Training: {steps} steps of batch {batch} ({train_images} pre-drawn images, random flips/transposes, random
  caption template per image), AdamW lr {lr}, cosine schedule; symmetric InfoNCE with a label-aware target
  (items of a batch with the same colour x shape pair are positives of each other, not false negatives).
- Time on the build machine (2 CPU cores, shared with parallel .NET builds): {train_minutes:.1f} min training,
  {total_minutes:.1f} min for the whole script. On two idle cores a step takes about 0.22 s, i.e. about 6 min of
  training (Debian's torch with libopenblas0-openmp; with the default reference BLAS it is ~8x slower).
- Reproducible: the same seed gives the same weights{determinism}. Floating-point results can differ with another
  BLAS library or CPU.

## Architecture (OpenAI CLIP layout, scaled down)
- Image tower: ViT, {image_size}x{image_size} input, patch {patch}, width {vw}, {vl} layers, {vh} heads,
  class token, positional embedding, ln_pre, ln_post on the class token, projection to {embed}.
- Text tower: causal transformer, width {tw}, {tl} layers, {th} heads, context {ctx} (trained on captions up to
  {train_ctx} tokens), pooled at the end token (argmax of ids), ln_final, text_projection to {embed}.
- QuickGELU, LayerNorm, sequence-first `nn.MultiheadAttention`; {n_params:,} parameters.
- Learned logit scale: ln = {logit_scale:.6f}, exp = {logit_scale_exp:.4f} (CLIP clamps it at 100).
- Tokenizer: byte-level BPE in OpenAI's format, learned from the caption corpus: {n_merges} merges, vocabulary
  {vocab} (= 512 + {n_merges} + 2), `<|startoftext|>` = {sot}, `<|endoftext|>` = {eot}, pad id 0, context
  {ctx}. `bpe_simple_vocab.txt` has no trailing newline.

## Files

| file | bytes |
|---|---|
{files}

Checked when this model was committed: the SimpleTokenizer port in the script reproduces all 24 ids of
`shared/clip-reference/tokenizer_reference.json` with OpenAI's own merges file; ONNX Runtime 1.31 (C#, CPU)
reproduces the torch embeddings of `reference.json` within 3e-6 (batch 1 and 36, ids padded to 77 or not).

ONNX: opset 17, dynamic batch (and sequence for text). Inputs `pixel_values` float32 [batch,3,{image_size},{image_size}]
and `input_ids` int64 [batch,seq]; outputs `image_embeds` / `text_embeds` float32 [batch,{embed}], **not
normalized** (normalize, then multiply the cosine by `logit_scale_exp` from config.json).
`reference.json` holds torch outputs for the three images in `data/samples/` for parity checks.

## What it knows
- Colours: {colours}.
- Shapes: {shapes}.
- One filled shape per image, any size from about 40 % to 90 % of the image's shorter side, any rotation, on a
  light, low-saturation, possibly noisy or graded background, in images of any size and aspect ratio (the shape in
  the central square, which is what the server's centre crop keeps).
- Caption styles seen in training: {templates}.

## What it does not know
Anything else. Real photos, other objects, other colours (white, black, pink, brown, grey, ...), several shapes in
one picture, outlines, dark backgrounds and text are all out of distribution; it will still return a confident
softmax over whatever labels it is given, which means nothing there. Labels phrased unlike the templates above
may also embed poorly (positions past {train_ctx} tokens were never trained).

## Measured accuracy (Python, torch)
Zero-shot top-1 over all {n_labels} colour x shape labels, on {eval_n} freshly drawn held-out images (seed
{eval_seed}, balanced), cosine x learned logit scale, softmax:

| prompt | top-1 | colour right | shape right |
|---|---|---|---|
{acc_rows}

## Licence
Trained by this repository's own script on its own synthetic data; the weights and files are under the same
licence as the repository. No third-party weights or data were used. The tokenizer algorithm and the
architecture follow openai/CLIP (MIT).
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/tiny-clip")
    ap.add_argument("--samples", default="data/samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-seed", type=int, default=20240601)
    ap.add_argument("--eval-n", type=int, default=1080)
    ap.add_argument("--steps", type=int, default=1600)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--train-images", type=int, default=24000)
    ap.add_argument("--check-tokenizer", nargs=2, metavar=("MERGES_GZ", "REFERENCE_JSON"),
                    help="only check the SimpleTokenizer port against OpenAI's merges and reference ids")
    args = ap.parse_args()

    if args.check_tokenizer:
        import gzip
        tok = SimpleTokenizer(gzip.open(args.check_tokenizer[0]).read().decode("utf-8"))
        ref = json.load(open(args.check_tokenizer[1], encoding="utf-8"))
        cases = ref["cases"] if isinstance(ref, dict) and "cases" in ref else ref
        ok = 0
        for case in cases:
            ids = tok.ids(case["text"])
            good = ids == case["ids"]
            ok += good
            if not good:
                print("MISMATCH", repr(case["text"]), ids, case["ids"])
        print(f"{ok}/{len(cases)} reference tokenizations match")
        return 0 if ok == len(cases) else 1

    t_start = time.time()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    # tokenizer
    merges = learn_bpe(caption_corpus())
    os.makedirs(args.out, exist_ok=True)
    merges_text = merges_file_text(merges)
    with open(os.path.join(args.out, "bpe_simple_vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(merges_text)
    tok = SimpleTokenizer(merges_text)
    assert len(tok.vocab) == 512 + len(merges) + 2
    print(f"tokenizer: {len(merges)} merges, vocab {len(tok.vocab)}, SOT {tok.sot}, EOT {tok.eot}; "
          f"'a photo of a red circle.' -> {tok.encode('a photo of a red circle.')}", flush=True)

    model, train_seconds, n_params = train(args, tok)

    print(f"drawing {args.eval_n} held-out images (seed {args.eval_seed}) ...", flush=True)
    ev_images, ev_labels = draw_dataset(args.eval_seed, args.eval_n, "eval")
    accs = {}
    for name, prompt in EVAL_PROMPTS.items():
        accs[name] = evaluate(model, tok, ev_images, ev_labels, prompt)
        print(f"held-out zero-shot top-1 ({prompt!r}): {accs[name][0] * 100:.2f}%  "
              f"(colour {accs[name][1] * 100:.2f}%, shape {accs[name][2] * 100:.2f}%)", flush=True)
        print("  shape confusion (rows true, cols predicted: " + ", ".join(SHAPES) + ")", flush=True)
        for sname, row in zip(SHAPES, accs[name][3]):
            print(f"    {sname:9s} " + " ".join(f"{v:4d}" for v in row), flush=True)

    logit_scale = float(model.logit_scale.detach())
    print("exporting ...", flush=True)
    export_onnx(model, args.out)
    write_sidecars(args.out, tok, len(merges), logit_scale)
    samples = write_samples(args.samples)
    write_reference(args.out, model, tok, samples, logit_scale)
    wsum = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.state_dict().values())).hexdigest()
    print(f"weights sha256 {wsum}", flush=True)

    total_seconds = time.time() - t_start
    files = []
    for root, _, names in sorted(os.walk(args.out)):
        for n in sorted(names):
            p = os.path.join(root, n)
            if n != "MODEL_CARD.md":
                files.append((os.path.relpath(p, args.out), os.path.getsize(p)))
    card = MODEL_CARD.format(
        command="/usr/bin/python3 tools/train_tiny_clip.py" + ("" if len(sys.argv) == 1 else " " + " ".join(sys.argv[1:])),
        torch_version=torch.__version__, seed=args.seed, eval_seed=args.eval_seed, steps=args.steps,
        batch=args.batch, train_images=args.train_images, lr=args.lr, train_minutes=train_seconds / 60,
        total_minutes=total_seconds / 60,
        determinism=f" (weights sha256 `{wsum[:16]}…`; the ONNX files are byte-identical between runs)",
        image_size=IMAGE_SIZE, patch=PATCH, vw=VISION_WIDTH, vl=VISION_LAYERS, vh=VISION_HEADS, embed=EMBED_DIM,
        tw=TEXT_WIDTH, tl=TEXT_LAYERS, th=TEXT_HEADS, ctx=CONTEXT_LENGTH, train_ctx=TRAIN_CONTEXT, n_params=n_params,
        logit_scale=logit_scale, logit_scale_exp=math.exp(logit_scale), n_merges=len(merges), vocab=len(tok.vocab),
        sot=tok.sot, eot=tok.eot, files="\n".join(f"| `{n}` | {s:,} |" for n, s in files),
        colours=", ".join(COLOURS), shapes=", ".join(SHAPES),
        templates="; ".join(f'"{t.format(c="red", s="circle")}"' for t in TEMPLATES),
        n_labels=len(PAIRS), eval_n=args.eval_n,
        acc_rows="\n".join(f"| `{label_texts(p)[0].replace('red circle', '{colour} {shape}')}`"
                           + f" | {accs[k][0] * 100:.2f} % | {accs[k][1] * 100:.2f} % | {accs[k][2] * 100:.2f} % |"
                           for k, p in EVAL_PROMPTS.items()))
    with open(os.path.join(args.out, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card)
    total = sum(s for _, s in files) + os.path.getsize(os.path.join(args.out, "MODEL_CARD.md"))
    print(f"wrote {args.out} ({total / 1e6:.2f} MB) in {total_seconds / 60:.1f} min; "
          f"train {train_seconds / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
