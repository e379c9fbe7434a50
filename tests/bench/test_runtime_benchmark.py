"""``benchmark-runtime``: auto's choice, then every candidate timed again; the table and JSON say both."""
import json

from basicsr_nafnet.bench import runtime_auto
from basicsr_nafnet.commands.benchmark_runtime import main
from basicsr_nafnet.inference import runtime_choice


def test_quick_run_with_pytorch_alone_reports_it_chosen_and_right(tmp_path, monkeypatch, capsys):
    # no runtime packages: PyTorch is the only candidate, so auto must choose it and be right
    monkeypatch.setattr(runtime_choice, 'installed_runtimes', lambda: [])
    monkeypatch.setattr(runtime_auto, 'installed_runtimes', lambda: [])
    out = tmp_path / 'r.json'
    assert main(['--quick', '--runs', '2', '--json', str(out)]) == 0
    result = json.loads(out.read_text())
    assert result['chosen'] == result['fastest'] == 'torch' and result['right']
    assert result['size'] == [256, 256] and set(result['seconds']) == {'torch'}
    assert result['chosen_over_torch'] == 1.0
    assert '| torch |' in capsys.readouterr().out


def test_wrong_choice_is_called_wrong():
    result = dict(model='m', size=[8, 8], machine='cpu', runs=3, seconds=dict(torch=1.0, onnxruntime=2.0),
                  chosen='onnxruntime', fastest='torch', noise=0.05, chosen_over_torch=2.0, right=False)
    text = runtime_auto.format_runtime_auto_markdown(result)
    assert '2.00x the time of PyTorch' in text and '(wrong within' in text and '| onnxruntime | 2000.0 | 0.50x' in text
