"""The tiny guest's init without a config drive: it reads the metadata service at
169.254.169.254 (the block of init.sh run under sh with a fake wget), and its DHCP script
adds the classless static routes (option 121) a DHCP server sends for that address."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from onestack.compute.guest import tiny

MD = "http://169.254.169.254/openstack/latest"


def _block(script: str, start: str) -> str:
    """The paragraph of ``script`` that starts with the comment line ``start``."""
    begin = script.index(start)
    end = script.find("\n\n", begin)
    return script[begin : end if end > 0 else None]


def _fakes(bin_dir: Path, served: Path, log: Path) -> None:
    """``wget -q -T N -O FILE URL`` copying from ``served`` (exit 1 when absent, as a 404),
    ``ip`` logging its arguments (and printing a route for ``ip -4 route``)."""
    bin_dir.mkdir()
    (bin_dir / "wget").write_text(
        "#!/bin/sh\n"
        f'echo "wget $*" >> {log}\n'
        'while [ $# -gt 1 ]; do [ "$1" = -O ] && out=$2; shift; done\n'
        f'src={served}/$(basename "$1")\n'
        '[ -f "$src" ] || { : > "$out"; exit 1; }\n'
        'cp "$src" "$out"\n'
    )
    (bin_dir / "ip").write_text(
        f'#!/bin/sh\necho "ip $*" >> {log}\n[ "$*" = "-4 route" ] && echo "default via 10.0.0.1"\n'
        "exit 0\n"
    )
    for tool in ("wget", "ip"):
        (bin_dir / tool).chmod(0o755)


def _run_metadata_block(tmp_path: Path, served: Path, cfg: str = "") -> tuple[str, str]:
    script = tiny.init_script().decode()
    block = _block(script, "# No config drive")
    run = tmp_path / "run"
    block = block.replace("/run/metadata", str(run / "metadata"))
    log = tmp_path / "log"
    log.touch()
    _fakes(tmp_path / "bin", served, log)
    program = (
        f'cfg="{cfg}"\nidentity() {{ echo "identity from $meta"; }}\n{block}\necho "cfg=$cfg"\n'
    )
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    out = subprocess.run(["sh", "-c", program], env=env, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout, log.read_text()


def test_init_script_parses_and_asks_the_metadata_service_when_no_config_drive() -> None:
    script = tiny.init_script().decode()
    subprocess.run(["sh", "-n", "-c", script], check=True, timeout=10)
    assert f"{MD}" in script
    # after the network is up (DHCP) and before the keys and user data are read
    assert (
        script.index("udhcpc -i")
        < script.index("# No config drive")
        < script.index("authorized_keys")
    )


def test_metadata_block_reads_meta_data_and_user_data(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "meta_data.json").write_text('{"uuid": "u-1", "hostname": "web"}')
    (served / "user_data").write_text("#!/bin/sh\necho hi\n")
    out, log = _run_metadata_block(tmp_path, served)
    meta = tmp_path / "run/metadata/openstack/latest/meta_data.json"
    assert f"wget -q -T 2 -O {meta} {MD}/meta_data.json" in log
    assert f"{MD}/user_data" in log
    assert meta.read_text() == '{"uuid": "u-1", "hostname": "web"}'
    assert (meta.parent / "user_data").read_text() == "#!/bin/sh\necho hi\n"
    assert f"identity from {meta}" in out
    assert f"cfg={tmp_path / 'run/metadata'}" in out


def test_metadata_block_without_user_data_or_service(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "meta_data.json").write_text('{"uuid": "u-2"}')
    out, _ = _run_metadata_block(tmp_path, served)
    latest = tmp_path / "run/metadata/openstack/latest"
    assert not (latest / "user_data").exists()  # a 404 leaves no empty user data to run
    assert "cfg=" + str(tmp_path / "run/metadata") in out
    (served / "meta_data.json").unlink()
    (tmp_path / "unserved").mkdir()
    out, _ = _run_metadata_block(tmp_path / "unserved", served)
    assert out.splitlines()[-1] == "cfg=" and "identity" not in out


def test_metadata_block_skipped_with_a_config_drive(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "meta_data.json").write_text("{}")
    out, log = _run_metadata_block(tmp_path, served, cfg="/mnt/config")
    assert "wget" not in log and "cfg=/mnt/config" in out


def test_dhcp_script_adds_classless_static_routes(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.touch()
    _fakes(tmp_path / "bin", tmp_path, log)
    script = tiny.UDHCPC.decode().replace("/etc/resolv.conf", str(tmp_path / "resolv.conf"))
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "interface": "eth0",
        "ip": "10.0.0.5",
        "mask": "24",
        "router": "10.0.0.1",
        "dns": "10.0.0.2",
        "staticroutes": "169.254.169.254/32 10.0.0.2 0.0.0.0/0 10.0.0.1",
    }
    out = subprocess.run(["sh", "-c", script, "udhcpc.sh", "bound"], env=env,
                         capture_output=True, text=True, timeout=10)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = log.read_text().splitlines()
    assert "ip addr add 10.0.0.5/24 dev eth0" in lines
    assert "ip route add 169.254.169.254/32 via 10.0.0.2 dev eth0" in lines
    assert (tmp_path / "resolv.conf").read_text() == "nameserver 10.0.0.2\n"
