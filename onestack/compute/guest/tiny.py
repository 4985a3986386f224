"""``onestack image build tiny``: a Debian cloud kernel and a busybox initramfs.

Everything comes from Debian packages (``apt-get download``, cached in ``CACHE/debs``); the
result is a kernel (the uncompressed ``vmlinux`` cut out of the bzImage: QEMU boots it through
its PVH entry, faster than decompressing under TCG), an initramfs whose ``/init`` is
``init.sh`` next to this module, and an empty qcow2 root disk the guest formats on first boot.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from onestack.compute.guest.cpio import Newc

NAME = "onestack-tiny"
KERNEL_META = "linux-image-cloud-amd64"
PACKAGES = (
    "busybox-static",
    "dropbear-bin",
    "libc6",
    "libcrypt1",
    "zlib1g",
    "libtomcrypt1",
    "libtommath1",
    "libgmp10",
)
#: modules the guest loads (their dependencies come first, from each module's .modinfo)
MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "virtio_rng", "isofs", "button", "evdev")
LIBS = (
    "ld-linux-x86-64.so.2",
    "libc.so.6",
    "libcrypt.so.1",
    "libz.so.1",
    "libtomcrypt.so.1",
    "libtommath.so.1",
    "libgmp.so.10",
)
LZ4_LEGACY_MAGIC = b"\x02\x21\x4c\x18"
DISK_SIZE = "1G"

Progress = Callable[[str], None]


class BuildError(Exception):
    """A package could not be fetched or unpacked, or a tool is missing."""


@dataclass(frozen=True, slots=True)
class TinyImage:
    version: str  # the kernel's release + a digest of the init script
    kernel: Path
    ramdisk: Path
    disk: Path


def init_script() -> bytes:
    return resources.files(__package__).joinpath("init.sh").read_bytes()


def _run(*args: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=True)
    except FileNotFoundError as exc:
        raise BuildError(f"{args[0]} is not installed (it comes with Debian/Ubuntu)") from exc
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{' '.join(args)} failed: {exc.stderr.strip()[-500:]}") from exc
    return done.stdout


def kernel_package() -> str:
    """The versioned kernel package the cloud meta-package points at now."""
    out = _run("apt-cache", "depends", KERNEL_META)
    found = re.findall(r"Depends: (linux-image-\S+-cloud-amd64)\b", out)
    if not found:
        raise BuildError(f"apt knows no {KERNEL_META} (is this Debian with main enabled?)")
    return found[0]


def _fetch(debs: Path, packages: list[str], progress: Progress) -> list[Path]:
    """The packages' .debs in ``debs`` (``PACKAGE_*.deb``), the missing ones downloaded."""

    def cached(package: str) -> Path | None:
        found = sorted(debs.glob(f"{package}_*.deb"))
        return found[-1] if found else None

    missing = [p for p in packages if cached(p) is None]
    if missing:
        progress(f"downloading {', '.join(missing)}")
        _run("apt-get", "download", "-q", *missing, cwd=debs)
    out = []
    for package in packages:
        deb = cached(package)
        if deb is None:
            raise BuildError(f"apt-get download {package} left no .deb in {debs}")
        out.append(deb)
    return out


def vmlinux(bzimage: bytes) -> bytes:
    """The ELF kernel inside an LZ4-compressed bzImage (Debian's cloud kernels)."""
    at = bzimage.find(LZ4_LEGACY_MAGIC)
    if at < 0:
        raise BuildError("the kernel image holds no LZ4 stream (not a cloud-amd64 kernel?)")
    # lz4 stops at the end of its stream and complains of what follows: the output is whole
    done = subprocess.run(["lz4", "-dc"], input=bzimage[at:], capture_output=True)
    if not done.stdout.startswith(b"\x7fELF"):
        raise BuildError(f"lz4 could not unpack the kernel: {done.stderr.decode()[-300:]}")
    return done.stdout


def _depends(ko: Path) -> list[str]:
    found = re.search(rb"depends=([\w,-]*)", ko.read_bytes())
    return [d for d in (found.group(1).decode() if found else "").split(",") if d]


def module_order(moddir: Path, wanted: tuple[str, ...]) -> list[Path]:
    """``wanted`` and what they need, each after its dependencies."""
    index = {p.stem.replace("-", "_"): p for p in moddir.rglob("*.ko")}
    order: list[Path] = []

    def visit(name: str) -> None:
        path = index.get(name.replace("-", "_"))
        if path is None:
            raise BuildError(f"the kernel has no module {name}")
        if path in order:
            return
        for dep in _depends(path):
            visit(dep)
        order.append(path)

    for name in wanted:
        visit(name)
    return order


INITTAB = b"""::sysinit:/bin/true
ttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
"""
UDHCPC = b"""#!/bin/sh
case "$1" in
bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via ${router%% *} dev "$interface"
    set -- $staticroutes  # option 121 (the metadata route a DHCP server may send): dest gw ...
    while [ $# -ge 2 ]; do ip route add "$1" via "$2" dev "$interface" 2>/dev/null; shift 2; done
    for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf ;;
esac
"""


def initramfs(root: Path, kernel_release: str) -> bytes:
    """The guest's whole userland, from the unpacked packages in ``root``."""
    arc = Newc()
    for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "etc/acpi", "etc/acpi/PWRF"):
        arc.directory(d)
    for d in ("lib", "lib64", "lib/modules", "proc", "sys", "dev", "run", "tmp", "root", "mnt"):
        arc.directory(d)
    arc.char_device("dev/console", 5, 1)
    arc.char_device("dev/null", 1, 3, 0o666)
    arc.file("init", init_script(), 0o755)
    busybox = root / "bin" / "busybox"
    arc.file("bin/busybox", busybox.read_bytes(), 0o755)
    applets = _run(str(busybox), "--list-full").split()
    for applet in applets:
        if applet != "bin/busybox" and not applet.startswith("linuxrc"):
            arc.symlink(applet, "/bin/busybox")
    arc.file("usr/sbin/dropbear", (root / "usr/sbin/dropbear").read_bytes(), 0o755)
    for tool in ("dropbearkey", "dbclient"):
        arc.file(f"usr/bin/{tool}", (root / "usr/bin" / tool).read_bytes(), 0o755)
    for lib in LIBS:
        found = [p for p in root.rglob(lib) if p.exists()]
        if not found:
            raise BuildError(f"no {lib} among the unpacked packages")
        arc.file(f"lib/{lib}", found[0].resolve().read_bytes(), 0o755)
    arc.symlink("lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-x86-64.so.2")
    arc.symlink("lib/x86_64-linux-gnu", ".")
    moddir = root / "lib" / "modules" / kernel_release
    names = []
    for ko in module_order(moddir, MODULES):
        arc.file(f"lib/modules/{ko.stem}.ko", ko.read_bytes())
        names.append(ko.stem)
    arc.file("etc/modules", ("\n".join(names) + "\n").encode())
    arc.file("etc/inittab", INITTAB)
    arc.file("etc/udhcpc.sh", UDHCPC, 0o755)
    arc.file("etc/acpi/PWRF/00000080", b"#!/bin/sh\npoweroff\n", 0o755)
    arc.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    arc.file("etc/group", b"root:x:0:\n")
    arc.file("etc/shadow", b"root:*:19000:0:99999:7:::\n", 0o600)
    arc.file("etc/shells", b"/bin/sh\n")
    arc.file("etc/issue", b"onestack-tiny (busybox): log in as root with the admin password\n")
    return arc.finish()


def build(cache: Path, progress: Progress = lambda _: None, force: bool = False) -> TinyImage:
    """The tiny image in ``cache/tiny-VERSION/``, built once (``force``: again)."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    kernel_pkg = kernel_package()
    release = kernel_pkg.removeprefix("linux-image-")
    digest = hashlib.sha256(init_script() + INITTAB + UDHCPC).hexdigest()[:8]
    version = f"{release}-{digest}"
    out = cache / f"tiny-{version}"
    image = TinyImage(version, out / "vmlinux", out / "initrd.img", out / "disk.qcow2")
    if not force and all(p.exists() for p in (image.kernel, image.ramdisk, image.disk)):
        return image
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        root = Path(tmp) / "root"
        for deb in _fetch(debs, [kernel_pkg, *PACKAGES], progress):
            progress(f"unpacking {deb.name}")
            _run("dpkg-deb", "-x", str(deb), str(root))
        stage = Path(tmp) / "out"
        stage.mkdir()
        progress("cutting the uncompressed kernel out of the bzImage")
        bz = (root / "boot" / f"vmlinuz-{release}").read_bytes()
        (stage / "vmlinux").write_bytes(vmlinux(bz))
        progress("building the busybox initramfs")
        (stage / "initrd.img").write_bytes(initramfs(root, release))
        _run("qemu-img", "create", "-q", "-f", "qcow2", str(stage / "disk.qcow2"), DISK_SIZE)
        if out.exists():
            shutil.rmtree(out)
        os.replace(stage, out)
    progress(f"built {NAME} {version} in {out}")
    return image
