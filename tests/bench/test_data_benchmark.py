"""The data benchmark runs end to end on tiny data and reports every number (not a timing test)."""
from basicsr_nafnet.bench.data import format_report, run_benchmark


def test_benchmark_runs_on_tiny_data(tmp_path):
    # isolate=False: no fresh interpreters (each would re-import torch); the CLI measures memory with them
    r = run_benchmark(str(tmp_path / 'bench'), pairs=2, size=(48, 64), crop_size=32, step=16, reads=5, progress=False,
                      isolate=False)
    assert r['crops'] == 2 * 2 * 3  # rows [0, 16] x cols [0, 16, 32]
    for entry in (r['ours'][1], r['ours'][2], r['two_pass']):
        assert entry['seconds'] > 0 and entry['megapixels_per_s'] > 0 and entry['main_peak_mib'] is None
    assert r['reads_per_s']['lmdb'] > 0 and r['reads_per_s']['png_disk'] > 0
    report = format_report(r)
    assert 'two-pass' in report and 'reads/s' in report and 'n/a' in report
    assert not (tmp_path / 'bench').exists()  # scratch removed
