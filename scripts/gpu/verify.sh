#!/usr/bin/env bash
# The GPU verification of ctc, run on a GPU host from the repository root with a bundle made by
# `npm run bundle:gpu` (see README, "GPUs"):
#
#   scripts/gpu/verify.sh BUNDLE WORK [corpus] [1b] [8b] [devices]
#
#   corpus   corpus decoders: compile on CPU and on CUDA, scales equal within 1e-5 relative;
#            eval of the CUDA output on CUDA
#   1b       a 1.1B random Llama made here: compile on CPU and CUDA (times, scale difference),
#            --layerwise on CUDA equals whole-graph; bench:calibrate --ep cuda with quantize_static
#   8b       an 8B-shape random Llama made here (float32, 32 GB of weights; CTC_8B_DTYPE=float16 for
#            16 GB), calibrated layer by layer under --max-device-memory 4G (peak GPU memory sampled
#            by nvidia-smi), and whole-graph on the GPU: the scales must be identical
#   devices  the 1B model with --devices over every GPU: scales identical to one GPU
#
# Each check prints one line "check NAME: ok|FAILED …"; the script exits 1 if any failed.
set -uo pipefail
B=$(cd "$1" && pwd); W=$2; shift 2
mkdir -p "$W"
CTC="$B/bin/ctc"
NODE="$B/bin/node"
APP="$B/app"
failed=0
check() { if [ "$2" = 0 ]; then echo "check $1: ok ${3:-}"; else echo "check $1: FAILED ${3:-}"; failed=1; fi; }
secs() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
compare() { "$NODE" "$APP/dist/scripts/gpu/compare-scales.js" "$@"; }

echo "bundle: $(tr -d '\n ' < "$B/BUNDLE.json" | head -c 400)"
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader

for step in "$@"; do
  case "$step" in
  corpus)
    for m in llama-gqa-bytes-ts-eager llama-gqa-bytes-dynamo-op23 gpt2-bytes-ts-eager; do
      for ep in cpu cuda; do
        t0=$(secs)
        "$CTC" compile "corpus/$m/model.onnx" --rules fp8-head --calib-sets 0-7 -o "$W/$m-$ep" --ep "$ep" --quiet --force >/dev/null
        check "compile $m --ep $ep" $? "($(since "$t0") s)"
      done
      r=$(compare "$W/$m-cpu/scales.json" "$W/$m-cuda/scales.json" 1e-5); check "scales $m cuda = cpu" $? "$r"
      r=$("$CTC" eval "corpus/$m/model.onnx" "$W/$m-cuda/model.onnx" --sets 8-15 --ep cuda --json --quiet | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(JSON.stringify(j.perplexity??j))})')
      check "eval $m --ep cuda" $? "$r"
    done
    ;;
  1b)
    M="$W/llama-1b"
    [ -f "$M/model.onnx" ] || "$NODE" "$APP/dist/corpus/generators/llama-cli.js" --shape 1B --out "$M" --sets 8 --seq 128
    for ep in cpu cuda; do
      t0=$(secs)
      "$CTC" compile "$M/model.onnx" --rules fp8-head -o "$W/1b-$ep" --ep "$ep" --quiet --force --json > "$W/1b-$ep.json"
      check "compile 1B --ep $ep" $? "(end to end $(since "$t0") s, calibration $(grep -o '"calibrationSeconds": [0-9.]*' "$W/1b-$ep.json" | cut -d' ' -f2) s)"
    done
    r=$(compare "$W/1b-cpu/scales.json" "$W/1b-cuda/scales.json" 1e-5); check "scales 1B cuda = cpu" $? "$r"
    t0=$(secs)
    "$CTC" compile "$M/model.onnx" --rules fp8-head -o "$W/1b-cuda-layerwise" --ep cuda --layerwise --quiet --force >/dev/null
    check "compile 1B --ep cuda --layerwise" $? "($(since "$t0") s)"
    r=$(compare "$W/1b-cuda/scales.json" "$W/1b-cuda-layerwise/scales.json" 0); check "scales 1B layerwise = whole (cuda)" $? "$r"
    # The outputs above were written by an older ctc that hard-linked the weights; Python's onnx
    # loader (in quantize_static) refuses a data file with several links, so drop them first.
    rm -rf "$W"/1b-cpu "$W"/1b-cuda "$W"/1b-cuda-layerwise
    "$NODE" "$APP/dist/bench/calibrate.js" --ep cuda --model "$M/model.onnx" --quantize-static
    check "bench:calibrate --ep cuda 1B" $?
    "$NODE" "$APP/dist/bench/calibrate.js" --ep cuda
    check "bench:calibrate --ep cuda corpus" $?
    ;;
  8b)
    dtype=${CTC_8B_DTYPE:-float32}
    M="$W/llama-8b-$dtype"
    [ -f "$M/model.onnx" ] || { t0=$(secs); "$NODE" "$APP/dist/corpus/generators/llama-cli.js" --shape 8B --dtype "$dtype" --out "$M" --sets 4 --seq 128; echo "generated 8B in $(since "$t0") s"; }
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 100 > "$W/8b-mem.txt" &
    smi=$!
    t0=$(secs)
    "$CTC" compile "$M/model.onnx" --rules fp8-head -o "$W/8b-out" --ep cuda --max-device-memory 4G --force --quiet --json > "$W/8b.json"
    rc=$?
    kill $smi
    peak=$(sort -n "$W/8b-mem.txt" | tail -1)
    base=$(head -1 "$W/8b-mem.txt")
    check "compile 8B $dtype --ep cuda --max-device-memory 4G" $rc "($(since "$t0") s; GPU memory peak $peak MiB, idle $base MiB; weights $(du -sh "$M/model.onnx.data" | cut -f1))"
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 100 > "$W/8b-whole-mem.txt" &
    smi=$!
    t0=$(secs)
    "$CTC" compile "$M/model.onnx" --rules fp8-head -o "$W/8b-whole" --ep cuda --force --quiet >/dev/null
    rc=$?
    kill $smi
    check "compile 8B $dtype --ep cuda (whole graph)" $rc "($(since "$t0") s; GPU memory peak $(sort -n "$W/8b-whole-mem.txt" | tail -1) MiB)"
    r=$(compare "$W/8b-whole/scales.json" "$W/8b-out/scales.json" 0); check "scales 8B layerwise = whole (cuda)" $? "$r"
    ;;
  repeat)
    # Is calibration on CUDA repeatable? The same compile twice, whole-graph and layer by layer.
    M="$W/llama-1b"
    [ -f "$M/model.onnx" ] || "$NODE" "$APP/dist/corpus/generators/llama-cli.js" --shape 1B --out "$M" --sets 8 --seq 128
    for k in 1 2; do
      "$CTC" compile "$M/model.onnx" --rules fp8-head -o "$W/rep-whole-$k" --ep cuda --quiet --force >/dev/null
      "$CTC" compile "$M/model.onnx" --rules fp8-head -o "$W/rep-layer-$k" --ep cuda --layerwise --quiet --force >/dev/null
    done
    r=$(compare "$W/rep-whole-1/scales.json" "$W/rep-whole-2/scales.json" 0); check "1B cuda whole = whole again" $? "$r"
    r=$(compare "$W/rep-layer-1/scales.json" "$W/rep-layer-2/scales.json" 0); check "1B cuda layerwise = layerwise again" $? "$r"
    r=$(compare "$W/rep-whole-1/scales.json" "$W/rep-layer-1/scales.json" 0); check "1B cuda whole = layerwise" $? "$r"
    r=$(compare "$W/rep-whole-2/scales.json" "$W/rep-layer-2/scales.json" 0); check "1B cuda whole = layerwise (2)" $? "$r"
    rm -rf "$W"/rep-*
    ;;
  devices)
    n=$(nvidia-smi -L | wc -l)
    ids=$(seq -s, 0 $((n - 1)))
    M="$W/llama-1b"
    [ -f "$M/model.onnx" ] || "$NODE" "$APP/dist/corpus/generators/llama-cli.js" --shape 1B --out "$M" --sets 8 --seq 128
    [ -f "$W/1b-cuda/scales.json" ] || "$CTC" compile "$M/model.onnx" --rules fp8-head -o "$W/1b-cuda" --ep cuda --quiet --force >/dev/null
    t0=$(secs)
    "$CTC" compile "$M/model.onnx" --rules fp8-head -o "$W/1b-devices" --ep cuda --devices "$ids" --quiet --force --json > "$W/1b-devices.json"
    check "compile 1B --devices $ids" $? "(end to end $(since "$t0") s, calibration $(grep -o '"calibrationSeconds": [0-9.]*' "$W/1b-devices.json" | cut -d' ' -f2) s)"
    r=$(compare "$W/1b-cuda/scales.json" "$W/1b-devices/scales.json" 0); check "scales 1B $n devices = 1 device" $? "$r"
    ;;
  *) echo "unknown step $step"; failed=1 ;;
  esac
done
exit $failed
