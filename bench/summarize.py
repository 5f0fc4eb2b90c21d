#!/usr/bin/python3
"""Reads one bench/run-all.sh output folder and prints the summary table (markdown), every ratio from that run.

    /usr/bin/python3 bench/summarize.py /tmp/truss-clip-bench

Inputs: machine.txt, python.jsonl (tools/python_baseline.py), bdn/results/*-report-full.json (BenchmarkDotNet),
load/load.jsonl and load-tc0/load.jsonl (tools/load/run.sh), parity.jsonl. Speedups are baseline time / our time
(> 1 means faster than the Python pipeline); medians throughout.
"""
import glob
import json
import os
import statistics
import sys


def jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def f(v, digits=2):
    """A number for the table: n/a when missing, no decimals from 1,000 up."""
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}" if abs(v) < 1000 else f"{v:,.0f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main(out):
    machine = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(out, "machine.txt")) if "=" in line)
    py = {r["stage"]: r for r in jsonl(os.path.join(out, "python.jsonl"))}
    bdn = {}
    for path in glob.glob(os.path.join(out, "bdn", "results", "*-report-full.json")):
        for b in json.load(open(path))["Benchmarks"]:
            bdn[(b["Type"], b["Method"], b["Parameters"])] = b
    load = jsonl(os.path.join(out, "load", "load.jsonl"))
    tc0 = jsonl(os.path.join(out, "load-tc0", "load.jsonl"))
    vit_load = jsonl(os.path.join(out, "load-vit", "load.jsonl"))
    parity = jsonl(os.path.join(out, "parity.jsonl"))
    bd = {r["stage"]: r["median_ms"] for r in jsonl(os.path.join(out, "breakdown.jsonl"))}

    def ms(type_, method, params=""):
        b = bdn.get((type_, method, params))
        return None if b is None else b["Statistics"]["Median"] / 1e6

    def alloc(type_, method, params=""):
        b = bdn.get((type_, method, params))
        return None if b is None else b["Memory"]["BytesAllocatedPerOperation"]

    def pms(stage):
        return py[stage]["median_ms"] if stage in py else None

    def verdict(value, target, higher=True):
        if value is None:
            return "not measured"
        return "meets" if (value >= target if higher else value <= target) else "**misses**"

    rows = []

    def row(what, ours, theirs, r, target, result):
        rows.append(f"| {what} | {ours} | {theirs} | {r} | {target} | {result} |")

    # 1. Preprocessing per core.
    pre = "PreprocessBenchmarks"
    for key, label, target in [("jpeg_1920x1080", "Preprocess 1080p JPEG (decode + resize + crop + normalize), 1 core", 1.0),
                               ("png_640x480", "Preprocess 640×480 PNG, 1 core", None),
                               ("jpeg_224x224", "Preprocess 224×224 JPEG, 1 core", None)]:
        ours = ms(pre, "DecodeAndPreprocess", f"Image={key}")
        theirs = pms(f"preprocess_{key}")
        r = ratio(theirs, ours)
        row(label, f"{f(ours)} ms", f"{f(theirs)} ms (Pillow + torchvision)", f"{f(r)}×",
            "≥ 1×" if target else "–", verdict(r, target) if target else "info")
    fast = ms(pre, "FastDecodeAndPreprocess", "Image=jpeg_1920x1080")
    theirs = pms("preprocess_jpeg_1920x1080")
    r = ratio(theirs, fast)
    row("Preprocess 1080p JPEG, fast path (reduced-DCT decode, short side ≥ 448, then the exact resample), 1 core",
        f"{f(fast)} ms", f"{f(theirs)} ms (Pillow + torchvision)", f"{f(r)}×", "≥ 2×", verdict(r, 2.0))
    for method, label in [("SkiaDecodeAndPreprocess", "… exact path with Skia's decoder (`jpeg_decoder: skia`, or no libturbojpeg)"),
                          ("SkiaFastDecodeAndPreprocess", "… fast path with Skia's decoder")]:
        skia = ms(pre, method, "Image=jpeg_1920x1080")
        if skia is not None:
            row(label, f"{f(skia)} ms", f"{f(theirs)} ms (Pillow + torchvision)", f"{f(ratio(theirs, skia))}×", "–", "info")
    d = ms(pre, "Decode", "Image=jpeg_1920x1080")
    p = ms(pre, "Preprocess", "Image=jpeg_1920x1080")
    pd, pt = pms("decode_jpeg_1920x1080"), pms("preprocess_jpeg_1920x1080")
    row("… 1080p split: decode / resize + crop + normalize", f"{f(d)} / {f(p)} ms (decode / Pillow-exact resampler)",
        f"{f(pd)} / {f(None if pd is None or pt is None else pt - pd)} ms (libjpeg-turbo decode / rest of _transform)",
        f"{f(ratio(pd, d))}× / {f(ratio(None if pd is None or pt is None else pt - pd, p))}×", "–", "info")

    # 2. HTTP vs in-process: tools/load/run.sh alternates the two in rounds; each round's pair gives one ratio.
    def paired(lines):
        """Per connection count: medians over rounds of HTTP req/s, in-process req/s and their ratio."""
        by_round = {}
        for r in lines:
            if r.get("round"):
                by_round.setdefault(r["round"], {})[r["stage"]] = r
        out_ = {}
        for pair in by_round.values():
            h, e, m = pair.get("http"), pair.get("inproc_engine"), pair.get("inproc_model")
            if h and e:
                out_.setdefault(h["connections"], []).append((h, e, m))
        summary = {}
        med = statistics.median
        for c, pairs in out_.items():
            summary[c] = {
                "ratio": med([h["req_per_s"] / e["req_per_s"] for h, e, _ in pairs]),
                "ratios": " / ".join(f"{h['req_per_s'] / e['req_per_s']:.0%}" for h, e, _ in pairs),
                "http": med([h["req_per_s"] for h, _, _ in pairs]),
                "p50": med([h["p50_ms"] for h, _, _ in pairs]),
                "p99": med([h["p99_ms"] for h, _, _ in pairs]),
                "server_cpu": med([h["server_cpu_ms_per_request"] for h, _, _ in pairs]),
                "engine": med([e["req_per_s"] for _, e, _ in pairs]),
                "engine_cpu": med([e["cpu_ms_per_request"] for _, e, _ in pairs]),
                "model": [m for _, _, m in pairs if m],
            }
        return summary

    http = paired(load)
    caches = [r for r in load if r["stage"] == "label_cache"]
    cache = None
    if caches:
        cache = {"text_rows_repeated_requests": sum(r["text_rows_repeated_requests"] for r in caches),
                 "text_rows_first_request": caches[0]["text_rows_first_request"]}
    # The throughput target is judged under load (several requests in flight). With one connection only one request
    # is ever in flight, so that row measures latency: the loopback round trip of the 211 KB body alone is ~8 % of
    # the in-process time per request (docs/benchmarks.md), and it is reported for information.
    for c in sorted(http):
        h = http[c]
        latency_bound = c == 1
        row(f"HTTP predict, embedded model, base64 PNG + 5 labels, wrk c={c} (server on 1 core)"
            + (": one request in flight, latency-bound" if latency_bound else ""),
            f"{f(h['http'], 0)} req/s (p50 {f(h['p50'])} ms, p99 {f(h['p99'])} ms; server CPU {f(h['server_cpu'])} ms/req)",
            f"in-process engine {f(h['engine'], 0)} req/s ({f(h['engine_cpu'])} ms CPU/req)",
            f"{h['ratio']:.0%} (rounds: {h['ratios']})", "–" if latency_bound else "≥ 85 %",
            "info" if latency_bound else verdict(h["ratio"], 0.85))
    models = [m for h in http.values() for m in h["model"]]
    engines = [e for e in load if e["stage"] == "inproc_engine"]
    if models and engines:
        m_rps = statistics.median(m["req_per_s"] for m in models)
        e_rps = statistics.median(e["req_per_s"] for e in engines)
        row("… in-process incl. JSON parse + base64 + response (Model.PredictAsync)",
            f"{f(m_rps, 0)} req/s ({f(statistics.median(m['cpu_ms_per_request'] for m in models))} ms CPU/req, "
            f"{statistics.median(m['allocated_bytes_per_request'] for m in models) / 1024:,.0f} KB alloc/req, "
            f"{sum(m['gen2'] for m in models)} gen2 GCs)",
            f"engine {f(e_rps, 0)} req/s", f"{m_rps / e_rps:.0%}", "–", "info")

    for lines, label, digits, target in [
            (tc0, "Diagnostic: same, c=8, DOTNET_TieredCompilation=0 (server and in-process)", 0, None),
            (vit_load, "Context: same request and HTTP path, ViT-B/32-shaped model, c=8 (1 core, 1 ORT thread)", 1, 0.85)]:
        for c, h in sorted(paired(lines).items()):
            row(label, f"{f(h['http'], digits)} req/s (server CPU {f(h['server_cpu'], digits)} ms/req)",
                f"in-process engine {f(h['engine'], digits)} req/s ({f(h['engine_cpu'], digits)} ms CPU/req)",
                f"{h['ratio']:.0%} (rounds: {h['ratios']})", "≥ 85 %", verdict(h["ratio"], target) if target else "info")

    # 3. ViT-B/32 end to end.
    e2e = "VitB32EndToEndBenchmarks"
    theirs = pms("classify_1080p_5_labels")
    # The target row is the request end to end as each side runs it by default, with no label cache: the engine runs
    # the text tower on the real tokens only, which gives the same embeddings as openai/CLIP's 77 padded tokens (the
    # export's torch_reference.json records 3.3e-06 between the two in torch itself). The 77-token row is what a
    # text graph fixed to 77 tokens (Immich's exports) costs, and separates engine speed from that saving.
    for method, label, target in [
        ("NoCache", "ViT-B/32 classify end to end (1080p JPEG, 5 labels), engine defaults (text on its real tokens), no label cache", 1.5),
        ("Context77NoCache", "… like for like: text padded to 77 tokens (fixed-77 text graphs), no label cache", None),
        ("RepeatedLabels", "… server default: label cache warm (repeated label set)", None)]:
        ours = ms(e2e, method)
        r = ratio(theirs, ours)
        row(label, f"{f(ours, 1)} ms", f"{f(theirs, 1)} ms (PyTorch eager, 2 threads)", f"{f(r)}×",
            "≥ 1.5×" if target else "–", verdict(r, target) if target else "info")
    if bd:
        for key, label in [("ctx77_classify_1080p_5_labels", "… like for like, median of 9 timed like the Python baseline"),
                           ("dynamic_classify_1080p_5_labels", "… real tokens only, no cache, median of 9")]:
            r = ratio(theirs, bd.get(key))
            row(label, f"{f(bd.get(key), 1)} ms", f"{f(theirs, 1)} ms", f"{f(r)}×", "–", "info")
        stages = [
            ("ctx77_decode_derived", "decode_jpeg_1920x1080", None, "… stage: decode the 1080p JPEG (ours derived from two timings, vs Pillow's libjpeg-turbo)"),
            ("ctx77_text_5_labels_no_cache", "text_forward_b5_ctx77", "tokenize_5_labels_cached",
             "… stage: 5 labels, tokenize + text tower at 77 tokens"),
            ("ctx77_preprocess_image_tower", "vision_forward_b1", None,
             "… stage: image tower, batch 1 (ours incl. resize + normalize of the decoded photo)"),
        ]
        for ours_key, py_key, py_extra, label in stages:
            theirs_stage = pms(py_key)
            if theirs_stage is not None and py_extra:
                theirs_stage += pms(py_extra) or 0
            row(label, f"{f(bd.get(ours_key), 1)} ms", f"{f(theirs_stage, 1)} ms", f"{f(ratio(theirs_stage, bd.get(ours_key)))}×", "–", "info")

    # 4. Label cache.
    if cache:
        row("Text-encoder rows for a repeated label set (ZeroShotClassifier.TextRowsEncoded)",
            f"{cache['text_rows_repeated_requests']} rows over "
            f"{sum(r['requests'] for r in load if r['stage'] in ('inproc_engine', 'inproc_model')):,}"
            f" repeated requests (first request: {cache['text_rows_first_request']})",
            "5 rows per request (the original re-encodes labels)", "–", "0", verdict(cache["text_rows_repeated_requests"], 0, higher=False))

    # 5. Towers and tokenizer (informational).
    tw = "TowerBenchmarks"
    for batch in (1, 8):
        for method, stage, label in [("Vision", f"vision_forward_b{batch}", "vision tower"),
                                     ("TextContext77", f"text_forward_b{batch}_ctx77", "text tower, 77 tokens")]:
            ours = ms(tw, method, f"Batch={batch}&Model=vit-b-32-random")
            theirs = pms(stage)
            row(f"ViT-B/32 {label}, batch {batch}", f"{f(ours, 1)} ms", f"{f(theirs, 1)} ms (PyTorch)", f"{f(ratio(theirs, ours))}×", "–", "info")
        ours = ms(tw, "TextPrompt", f"Batch={batch}&Model=vit-b-32-random")
        row(f"ViT-B/32 text tower, batch {batch}, real length (7 tokens)", f"{f(ours, 1)} ms", "– (always 77)", "–", "–", "info")
    for method, stage, label in [("PromptCached", "tokenize_prompt_cached", "Tokenize one prompt, word cache warm"),
                                 ("PromptUncached", "tokenize_prompt_uncached", "Tokenize one prompt, word cache off/cleared")]:
        ours = ms("TokenizerBenchmarks", method)
        theirs = pms(stage)
        row(label, f"{f(ours * 1000 if ours else None)} µs ({alloc('TokenizerBenchmarks', method)} B)",
            f"{f(theirs * 1000 if theirs else None)} µs (simple_tokenizer.py + clip.tokenize)",
            f"{f(ratio(theirs, ours), 0)}×", "–", "info")
    hit = ms("LabelCacheBenchmarks", "ClassifyRepeatedLabels")
    miss = ms("LabelCacheBenchmarks", "ClassifyCacheDisabled")
    row("Embedded model Classify, repeated labels vs cache disabled (decoded image)", f"{f(hit * 1000 if hit else None, 0)} µs",
        f"{f(miss * 1000 if miss else None, 0)} µs (cache disabled)", f"{f(ratio(miss, hit))}×", "–", "info")

    print(f"Run of {machine.get('date', '?')} on {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
          f"{machine.get('ram', '?')} RAM; load average {machine.get('load_at_start', '?')} at start, "
          f"{machine.get('load_at_end', '?')} at end; suite {machine.get('suite_seconds', '?')} s.")
    if parity:
        p0 = parity[0]
        print(f"Same weights on both sides: ONNX Runtime vs torch max |diff| image {p0['image_max_abs_diff']:.1e}, "
              f"text {p0['text_max_abs_diff']:.1e}; tokenizer ids match: {p0['tokenizer_ids_match']}.")
    print()
    print("| measure | Truss.Clip (.NET) | Python baseline / reference | ratio | target | result |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/truss-clip-bench")
