"""Print the README's zoo table (families x exporters) and corpus/README.md's table of exports the
exporters could not produce, from the unpacked zoo and tests/zoo/expected-failures.json.

    python3 corpus/generators/zoo/readme_table.py [.cache/zoo] [tests/zoo/expected-failures.json]
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from families import EXPORTERS, FAMILIES  # noqa: E402

zoo = sys.argv[1] if len(sys.argv) > 1 else '.cache/zoo'
failing = json.load(open(sys.argv[2] if len(sys.argv) > 2 else 'tests/zoo/expected-failures.json'))['models']
results = json.load(open(os.path.join(zoo, 'results.json')))
HEAD = {'ts17': 'TorchScript, opset 17', 'dynamo18': 'dynamo, opset 18', 'dynamo23': 'dynamo, opset 23'}


def export_reason(r):
    e = r['error'].replace('ERROR ', '')
    if 'invalid model' in e:
        return 'exported, onnxruntime refuses the model: ' + e.split('invalid model. ')[-1][:100]
    if 'ONNXRuntimeError' in e:
        return 'exported, onnxruntime refuses it: ' + e.split(' : ')[-1][:90]
    if 'Create an issue' in e:
        return 'torch.export failed, dynamic and static shapes (the generator kept only torch.onnx\'s banner, not the cause)'
    e = e.split(' | static: ')[0].replace('RuntimeError: dynamic: ', '')
    return e[:110]


print('| family | forms | ' + ' | '.join(HEAD[e[0]] for e in EXPORTERS) + ' |')
print('|---|---|' + '---|' * len(EXPORTERS))
for f in FAMILIES:
    cells = []
    for e in EXPORTERS:
        name = f"{f['name']}-{e[0]}"
        r = results[name]
        if r['status'] != 'ok':
            cells.append('✘ export')
        elif name in failing:
            cells.append(f"✘ ctc: {failing[name]['form']}")
        else:
            static = '' if r.get('dynamic_shapes') else ' (static shapes)'
            cells.append('✔' + static)
    print(f"| {f['name']} | {', '.join(f['forms'])} | " + ' | '.join(cells) + ' |')

print()
print('| export | what the exporter (or onnxruntime on its output) said |')
print('|---|---|')
for name, r in sorted(results.items()):
    if r['status'] != 'ok':
        print(f"| {name} | {export_reason(r).replace('|', '/')} |")
