"""Export the zoo: every family of families.py with every exporter, each in its own process.

    python export_zoo.py all OUTDIR [--jobs 14] [--deadline 420] [--only NAME,...]
    python export_zoo.py one FAMILY EXPORTER OUTDIR        (what `all` runs per export)

  families.py ─► tiny random config ─► weights on a coarse grid ─► export (TorchScript 17 /
  dynamo 18 / dynamo 23) ─► OUTDIR/<family>-<exporter>/{model.onnx, meta.json,
  test_data_set_{0,1}/input_K.pb, output_K.pb} ─► OUTDIR/results.json (also the failures)

Weights are drawn at random (seed 0) and then rounded to a coarse grid (each tensor to
multiples of a power of two near 1/8 of its largest magnitude), so that xz compresses the
zoo to a few MB; the models stay random-weight models of their architecture. Decoders get a
real cache: set N's past is what the model itself computed on a random 4-token prefix, and
input_ids holds the next 5 tokens. Every expected output is onnxruntime's run of the exported
model; meta.json records the largest difference from PyTorch on the same inputs.
Needs torch, transformers, onnx, onnxruntime (tested with torch 2.11, transformers 5.17,
onnx 1.23.1, onnxruntime 1.30); reads nothing from the network.
"""
import json
import os
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from families import EXPORTERS, FAMILIES, TOKENS  # noqa: E402

PAST, NEW, ENC_LEN, DEC_LEN = 4, 5, 8, 4


NOISE = ('Refer to the full stack trace', 'Failed to export the model', 'This is step', 'Next steps', 'Traceback')


def short(err, limit=300):
    """One line for an exception: the first line in its cause chain that names an error (torch.onnx's
    own errors wrap the cause in a banner: "Failed to export the model with torch.export...")."""
    chain, e = [], err
    while e is not None and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    # torch.onnx's banner ends in a bullet list of advice ("- Create an issue ..."): not the cause
    lines = [(e, l.strip()) for e in chain for l in str(e).splitlines()
             if l.strip() and not l.strip().startswith('- ') and not any(n in l for n in NOISE)]
    pick = next(((e, l) for e, l in lines if any(w in l for w in ('Error', 'error', 'not supported', 'Unsupported',
                                                                  'Could not', 'cannot', 'failed'))), None)
    pick = pick or (lines[0] if lines else (err, ''))
    e, line = pick
    line = line.replace('\x1b[96m', '').replace('\x1b[0m', '')
    line = line if len(line) <= limit else line[:limit] + '...'
    return f'{type(e).__name__}: {line}'


class DynamicFailed(Exception):
    """The export with dynamic shapes failed; the static one runs in a fresh process (a failed
    torch.export can leave the model's modules patched)."""


# ---------------------------------------------------------------- one export (child process)

def build_model(family, attn):
    import torch
    import transformers as tf
    torch.manual_seed(0)
    cfg = tf.AutoConfig.for_model(family['model_type'], **{**TOKENS, **family['config']})
    auto = {'decoder': tf.AutoModelForCausalLM, 'encoder': tf.AutoModel, 'seq2seq': tf.AutoModelForSeq2SeqLM,
            'speech2seq': tf.AutoModelForSpeechSeq2Seq, 'vision': tf.AutoModel}[family['kind']]
    used, load = attn, dict(family['load'])
    if load:
        try:
            auto.from_config(cfg, attn_implementation='eager', **load)
        except Exception:
            load = {}  # this transformers does not know the option: the default build
    try:
        model = auto.from_config(cfg, attn_implementation=attn, **load)
    except Exception:
        if attn == 'eager':
            raise
        used = 'eager'  # the family has no sdpa path: export what the user would get
        model = auto.from_config(cfg, attn_implementation='eager', **load)
    torch.manual_seed(0)
    model = auto.from_config(cfg, attn_implementation=used, **load)
    model.load_options = load
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dtype.is_floating_point and p.numel() > 1:
                amax = float(p.abs().max())
                if amax > 0:
                    step = 2.0 ** int(torch.floor(torch.log2(torch.tensor(amax / 8))))
                    p.copy_(torch.round(p / step) * step)
    return model, cfg, used


def make_cache(cfg):
    from transformers import DynamicCache
    try:
        return DynamicCache(config=cfg)
    except TypeError:
        return DynamicCache()


def cache_tensors(cache):
    if hasattr(cache, 'layers'):
        return [(l.keys, l.values) for l in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache))


def decoder_wrapper(model, cfg):
    import torch

    class WithPast(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, *past):
            cache = make_cache(cfg)
            for i in range(len(past) // 2):
                cache.update(past[2 * i], past[2 * i + 1], i)
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache, use_cache=True)
            flat = [t for kv in cache_tensors(out.past_key_values) for t in kv]
            return (out.logits, *flat)

    return WithPast()


def seq2seq_wrapper(model, speech):
    import torch

    class Seq2Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, encoder_input, decoder_input_ids, attention_mask=None):
            if speech:
                out = self.model(input_features=encoder_input, decoder_input_ids=decoder_input_ids, use_cache=False)
            else:
                out = self.model(input_ids=encoder_input, attention_mask=attention_mask,
                                 decoder_input_ids=decoder_input_ids, use_cache=False)
            return out.logits

    return Seq2Seq()


def encoder_wrapper(model, vision):
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x, attention_mask=None):
            out = self.model(pixel_values=x) if vision else self.model(input_ids=x, attention_mask=attention_mask)
            return out.last_hidden_state

    return Encoder()


def sample_sets(family, model, cfg, n_layers):
    """Two input sets as (names, tensors, dynamic axes). Decoder pasts come from the model itself."""
    import torch
    g = torch.Generator().manual_seed(1234)
    vocab = cfg.vocab_size if hasattr(cfg, 'vocab_size') else 128
    kind = family['kind']
    sets = []
    for s in range(2):
        if kind == 'decoder':
            prefix = torch.randint(3, vocab, (1, PAST), generator=g)
            cache = make_cache(cfg)
            with torch.no_grad():
                out = model(input_ids=prefix, attention_mask=torch.ones(1, PAST, dtype=torch.int64),
                            past_key_values=cache, use_cache=True)
            past = [t.contiguous() for kv in cache_tensors(out.past_key_values) for t in kv]
            ids = torch.randint(3, vocab, (1, NEW), generator=g)
            mask = torch.ones(1, PAST + NEW, dtype=torch.int64)
            names = ['input_ids', 'attention_mask'] + [f'past_key_values.{i}.{w}' for i in range(len(past) // 2)
                                                       for w in ('key', 'value')]
            sets.append((names, [ids, mask, *past]))
        elif kind in ('seq2seq', 'speech2seq'):
            dec = torch.randint(3, vocab, (1, DEC_LEN), generator=g)
            if kind == 'speech2seq':
                feats = torch.randn(1, cfg.num_mel_bins, 2 * cfg.max_source_positions, generator=g)
                sets.append((['input_features', 'decoder_input_ids'], [feats, dec]))
            else:
                ids = torch.randint(3, vocab, (1, ENC_LEN), generator=g)
                sets.append((['input_ids', 'decoder_input_ids', 'attention_mask'],
                             [ids, dec, torch.ones(1, ENC_LEN, dtype=torch.int64)]))
        elif kind == 'vision':
            sets.append((['pixel_values'], [torch.randn(1, cfg.num_channels, cfg.image_size, cfg.image_size, generator=g)]))
        else:
            ids = torch.randint(3, vocab, (1, ENC_LEN), generator=g)
            sets.append((['input_ids', 'attention_mask'], [ids, torch.ones(1, ENC_LEN, dtype=torch.int64)]))
    return sets


def dynamic_axes(kind, names):
    axes = {}
    for n in names:
        if n in ('input_ids', 'decoder_input_ids'):
            axes[n] = {0: 'batch', 1: 'sequence' if n == 'input_ids' else 'decoder_sequence'}
        elif n == 'attention_mask':
            axes[n] = {0: 'batch', 1: 'total_sequence' if kind == 'decoder' else 'sequence'}
        elif n.startswith('past_key_values'):
            axes[n] = {0: 'batch', 2: 'past_sequence'}
        else:
            axes[n] = {0: 'batch'}
    return axes


def output_axes(kind, out_names):
    axes = {}
    for n in out_names:
        if n.startswith('present'):
            axes[n] = {0: 'batch', 2: 'total_sequence'}
        elif kind == 'vision':
            axes[n] = {0: 'batch'}
        else:
            axes[n] = {0: 'batch', 1: 'decoder_sequence' if kind in ('seq2seq', 'speech2seq') else 'sequence'}
    return axes


def expected_sites(family, cfg, model):
    """Attention sites, heads, kv heads and head size as the architecture defines them."""
    g = lambda *keys, default=None: next((getattr(cfg, k) for k in keys if getattr(cfg, k, None) is not None), default)
    kind = family['kind']
    if kind in ('seq2seq', 'speech2seq'):
        enc = g('encoder_layers', 'num_layers')
        dec = g('decoder_layers', 'num_decoder_layers', default=enc)
        heads = g('encoder_attention_heads', 'num_heads')
        hidden = g('d_model')
        head_dim = g('d_kv', default=hidden // heads)
        return dict(blocks=enc + 2 * dec, self_blocks=enc + dec, cross_blocks=dec, heads=heads, kv_heads=heads,
                    head_dim=head_dim, hidden=hidden, layers=enc + dec)
    layers = g('num_hidden_layers', 'n_layer', 'n_layers', 'num_layers')
    heads = g('num_attention_heads', 'n_head', 'n_heads')
    hidden = g('hidden_size', 'n_embd', 'd_model', 'dim')
    head_dim = g('head_dim', default=hidden // heads)
    kv = g('num_key_value_heads', 'num_kv_heads', default=heads)
    if family['model_type'] in ('falcon', 'gpt_bigcode') and getattr(cfg, 'multi_query', False):
        kv = 1
    if family['model_type'] == 'falcon' and not getattr(cfg, 'multi_query', False) and not getattr(cfg, 'new_decoder_architecture', False):
        kv = heads
    return dict(blocks=layers, self_blocks=layers, cross_blocks=0, heads=heads, kv_heads=kv, head_dim=head_dim,
                hidden=hidden, layers=layers)


def export_one(family_name, exporter_id, outdir, dynamic=True):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    import transformers
    from onnx import numpy_helper
    torch.set_num_threads(1)
    family = next(f for f in FAMILIES if f['name'] == family_name)
    _, dynamo, opset, attn = next(e for e in EXPORTERS if e[0] == exporter_id)
    name = f'{family_name}-{exporter_id}'
    folder = os.path.join(outdir, name)
    os.makedirs(folder, exist_ok=True)
    meta = dict(name=name, family=family_name, model_type=family['model_type'], kind=family['kind'],
                forms=family['forms'], exporter='dynamo' if dynamo else 'torchscript', opset=opset,
                torch=torch.__version__, transformers=transformers.__version__,
                weights='random (seed 0), each tensor rounded to multiples of a power of two near 1/8 of its max |w|')
    model, cfg, used = build_model(family, attn)
    meta['attn_implementation'] = used
    meta['load_options'] = model.load_options
    kind = family['kind']
    sites = expected_sites(family, cfg, model)
    sets = sample_sets(family, model, cfg, sites['layers'])
    names0, tensors0 = sets[0]
    if kind == 'decoder':
        wrapper = decoder_wrapper(model, cfg)
        n_layers_cache = (len(names0) - 2) // 2
        out_names = ['logits'] + [f'present.{i}.{w}' for i in range(n_layers_cache) for w in ('key', 'value')]
        pk = tensors0[2]
        sites['kv_heads_in_cache'] = int(pk.shape[1]) if pk.dim() == 4 else None
        sites['head_dim_in_cache'] = int(pk.shape[-1])
        meta['sliding_window'] = getattr(cfg, 'sliding_window', None)
        meta['layer_types'] = getattr(cfg, 'layer_types', None)
    elif kind in ('seq2seq', 'speech2seq'):
        wrapper = seq2seq_wrapper(model, kind == 'speech2seq')
        out_names = ['logits']
    else:
        wrapper = encoder_wrapper(model, kind == 'vision')
        out_names = ['last_hidden_state']
    meta.update(sites)
    meta['cache'] = kind == 'decoder'
    wrapper.eval()
    path = os.path.join(folder, 'model.onnx')
    args = tuple(tensors0)
    axes = dynamic_axes(kind, names0)
    t0 = time.time()
    attempts = []
    for dyn in ((True,) if dynamic else (False,)):
        try:
            kwargs = dict(input_names=names0, output_names=out_names, opset_version=opset, dynamo=dynamo)
            if dyn and dynamo:
                auto = torch.export.Dim.AUTO
                shapes = [{ax: auto for ax in axes[n]} for n in names0]
                # torch.export binds dynamic_shapes to the signature: *past is one entry, a tuple
                kwargs['dynamic_shapes'] = (*shapes[:2], tuple(shapes[2:])) if kind == 'decoder' else tuple(shapes)
            elif dyn:
                kwargs['dynamic_axes'] = {**axes, **output_axes(kind, out_names)}
            if dynamo:
                kwargs['external_data'] = False
            with torch.no_grad():
                torch.onnx.export(wrapper, args, path, **kwargs)
            meta['dynamic_shapes'] = dyn
            break
        except Exception as e:
            if os.path.exists(path):
                os.remove(path)
            if dyn:
                raise DynamicFailed(short(e)) from e
            raise RuntimeError(f"dynamic: {os.environ.get('ZOO_DYNAMIC_ERROR')} | static: {short(e)}") from e
    if not dynamic:
        meta['dynamic_export_error'] = os.environ.get('ZOO_DYNAMIC_ERROR')
    meta['export_s'] = round(time.time() - t0, 2)
    proto = onnx.load(path)
    inits = {i.name for i in proto.graph.initializer}
    graph_inputs = [i.name for i in proto.graph.input if i.name not in inits]
    graph_outputs = [o.name for o in proto.graph.output]
    ops = {}
    for n in proto.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    for fn in proto.functions:
        for n in fn.node:
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
    meta['ops'] = dict(sorted(ops.items(), key=lambda kv: -kv[1]))
    meta['opset_import'] = [[o.domain, o.version] for o in proto.opset_import]
    meta['inputs'], meta['outputs'] = graph_inputs, graph_outputs
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    worst = 0.0
    for s, (names, tensors) in enumerate(sets):
        feeds = {n: t.numpy() for n, t in zip(names, tensors)}
        missing = [n for n in graph_inputs if n not in feeds]
        if missing:
            raise RuntimeError(f'graph inputs not fed: {missing}')
        results = sess.run(None, {n: feeds[n] for n in graph_inputs})
        with torch.no_grad():
            ref = wrapper(*tensors)
        ref = ref if isinstance(ref, tuple) else (ref,)
        for r, o in zip(ref, results):
            if tuple(r.shape) != tuple(o.shape):
                raise RuntimeError(f'onnxruntime output shape {o.shape} differs from PyTorch {tuple(r.shape)}')
            worst = max(worst, float(np.abs(r.numpy() - o).max()))
        d = os.path.join(folder, f'test_data_set_{s}')
        os.makedirs(d, exist_ok=True)
        for k, n in enumerate(graph_inputs):
            with open(os.path.join(d, f'input_{k}.pb'), 'wb') as f:
                f.write(numpy_helper.from_array(feeds[n], n).SerializeToString())
        for k, (n, o) in enumerate(zip(graph_outputs, results)):
            with open(os.path.join(d, f'output_{k}.pb'), 'wb') as f:
                f.write(numpy_helper.from_array(o, n).SerializeToString())
    meta['ort_max_abs_diff'] = worst
    meta['sets'] = len(sets)
    meta['bytes'] = os.path.getsize(path)
    with open(os.path.join(folder, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta


# ---------------------------------------------------------------- the whole zoo (parent)

def run_all(outdir, jobs, deadline, only):
    os.makedirs(outdir, exist_ok=True)
    todo = [(f['name'], e[0]) for f in FAMILIES for e in EXPORTERS if not only or f['name'] in only]
    start = time.time()
    results = {}

    def one(item):
        fam, exp = item
        left = deadline - (time.time() - start)
        if left < 20:
            return item, dict(status='skipped', error='zoo deadline reached before this export started')
        t0 = time.time()
        env = {**os.environ, 'OMP_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false', 'CUDA_VISIBLE_DEVICES': ''}
        try:
            p = subprocess.run([sys.executable, __file__, 'one', fam, exp, outdir], capture_output=True, text=True,
                               timeout=min(240, left), env=env)
        except subprocess.TimeoutExpired:
            return item, dict(status='timeout', error=f'no result in {int(min(240, left))} s', seconds=round(time.time() - t0, 1))
        tail = p.stdout.strip().splitlines()
        last = tail[-1] if tail else ''
        if p.returncode == 0 and last.startswith('{'):
            return item, dict(status='ok', seconds=round(time.time() - t0, 1), **json.loads(last))
        err = [l for l in p.stderr.strip().splitlines() if l.strip()]
        return item, dict(status='failed', seconds=round(time.time() - t0, 1),
                          error=(last if last.startswith('ERROR') else (err[-1] if err else f'exit {p.returncode}'))[:400],
                          stderr_tail=err[-12:])

    with ThreadPoolExecutor(jobs) as pool:
        for (fam, exp), r in pool.map(one, todo):
            results[f'{fam}-{exp}'] = dict(family=fam, exporter=exp, **r)
            print(f'{time.time() - start:6.1f}s {fam}-{exp}: {r["status"]} {r.get("error", "")[:160]}', flush=True)
            if r['status'] != 'ok':
                import shutil
                shutil.rmtree(os.path.join(outdir, f'{fam}-{exp}'), ignore_errors=True)
    with open(os.path.join(outdir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)
    ok = sum(r['status'] == 'ok' for r in results.values())
    print(f'{ok} of {len(results)} exports produced in {time.time() - start:.0f} s')


def main(argv):
    if argv[0] == 'one':
        fam, exp, outdir = argv[1:4]
        try:
            meta = export_one(fam, exp, outdir, dynamic=argv[4:5] != ['static'])
        except DynamicFailed as e:
            os.environ['ZOO_DYNAMIC_ERROR'] = str(e)
            sys.stdout.flush()
            os.execv(sys.executable, [sys.executable, __file__, 'one', fam, exp, outdir, 'static'])
        except Exception as e:
            traceback.print_exc()
            print('ERROR ' + short(e))
            sys.exit(1)
        keep = ('attn_implementation', 'dynamic_shapes', 'dynamic_export_error', 'ort_max_abs_diff', 'export_s', 'bytes')
        print(json.dumps({k: meta.get(k) for k in keep}))
        return
    if argv[0] == 'all':
        outdir = argv[1]
        opts = dict(zip(argv[2::2], argv[3::2]))
        only = set(opts['--only'].split(',')) if '--only' in opts else None
        run_all(outdir, int(opts.get('--jobs', 14)), float(opts.get('--deadline', 420)), only)
        return
    sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
