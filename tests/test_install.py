"""A plain install works like a checkout: the wheel carries the option files and the demo runs from it."""
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_wheel_install_runs_the_demo_and_resolves_option_names(tmp_path):
    # build from a copy, so the checkout gets no build/ or egg-info from the test
    src = tmp_path / 'src'
    for name in ('basicsr_nafnet', 'options'):
        shutil.copytree(os.path.join(ROOT, name), src / name, symlinks=True,
                        ignore=shutil.ignore_patterns('__pycache__', '_options'))
    for name in ('setup.py', 'setup.cfg', 'README.md'):
        shutil.copy(os.path.join(ROOT, name), src / name)
    site = tmp_path / 'site'
    build = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-build-isolation', '--no-index',
                            '--disable-pip-version-check', '-q', '--target', str(site), str(src)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    assert (site / 'basicsr_nafnet' / '_options' / 'train' / 'GoPro' / 'NAFNet-width64.yml').is_file()
    assert not (site / 'options').exists()  # the files live inside the package, nowhere else

    run = tmp_path / 'run'
    run.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))  # ahead of the editable install of the checkout
    probe = ("import json, basicsr_nafnet; from basicsr_nafnet.engine.options import options_root, "
             "project_option_files; from basicsr_nafnet.inference import parse_model_spec; "
             "spec = parse_model_spec('NAFNet-width32'); "
             "print(json.dumps([basicsr_nafnet.__file__, options_root(), project_option_files()['NAFNet-width32'], "
             "spec.network['type'], spec.name]))")
    done = subprocess.run([sys.executable, '-c', probe], cwd=run, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    package_file, options_root, option_file, arch, name = json.loads(done.stdout.splitlines()[-1])
    assert package_file.startswith(str(site))
    assert options_root == str(site / 'basicsr_nafnet' / '_options')
    assert option_file == str(site / 'basicsr_nafnet' / '_options' / 'test' / 'GoPro' / 'NAFNet-width32.yml')
    assert (arch, name) == ('NAFNetLocal', 'NAFNet-GoPro-width32-test')

    # every command through the one installed dispatcher (pip --target puts console scripts in bin/)
    for script in ('basicsr-nafnet', 'basicsr-nafnet-train', 'basicsr-nafnet-test'):
        assert (site / 'bin' / script).is_file(), script
    listed = subprocess.run([str(site / 'bin' / 'basicsr-nafnet'), '--help'], cwd=run, env=env, capture_output=True,
                            text=True)
    assert listed.returncode == 0, listed.stderr[-3000:]
    commands = {line.split()[0] for line in listed.stdout.splitlines() if line.startswith('  ')}
    assert {'train', 'deblur', 'leaderboard', 'export', 'prepare'} <= commands

    demo = subprocess.run([sys.executable, '-m', 'basicsr_nafnet.demo', '--iters', '1', '--root', str(run)], cwd=run,
                          env=env, capture_output=True, text=True, timeout=1200)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert (run / 'experiments' / 'NAFNet-demo-1it' / 'models' / 'net_g_latest.pth').is_file()
    assert 'dB PSNR over the blurry input' in demo.stdout + demo.stderr
