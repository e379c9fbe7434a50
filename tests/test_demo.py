"""The demo's flow end to end at toy size: data, a few iterations through train.py, the results table."""
from basicsr_nafnet import demo


def test_demo_flow_at_toy_size(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, 'DEMO_DATA', dict(train=3, test=2, size=(128, 128), seed=0))
    monkeypatch.setattr(demo, 'DEMO_CROP', 96)
    monkeypatch.setattr(demo, 'DEMO_STEP', 32)
    lines = []
    result = demo.run_demo(str(tmp_path), models=('NAFNet', ), iters=3, log=lines.append)
    names = [row['name'] for row in result['rows']]
    assert names == ['input', 'NAFNet-demo-3it']  # rows named after the BasicSR run
    assert all(row['psnr'] > 10 for row in result['rows'])
    assert (tmp_path / 'experiments' / 'NAFNet-demo-3it' / 'models' / 'net_g_latest.pth').is_file()
    assert list((tmp_path / 'experiments' / 'NAFNet-demo-3it' / 'visualization' / 'comparisons').glob('*.png'))
    assert any('dB PSNR over the blurry input' in line for line in lines)
    # a second run reuses the data and the finished training
    lines.clear()
    demo.run_demo(str(tmp_path), models=('NAFNet', ), iters=3, log=lines.append)
    assert any('reusing' in line for line in lines) and any('already trained' in line for line in lines)
