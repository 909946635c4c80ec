"""Build ``_idp_argon2``: argon2's own optimised code compiled for this CPU (issue 2).

The argon2-cffi-bindings wheel is compiled for any x86-64 (SSE2 at most), and libsodium,
though vectorised, maps and populates a fresh 19 MiB matrix for every hash — ≈ 6–7 ms of
kernel time per login in a busy server worker (bench/README.md, round 11). This compiles
the reference implementation's optimised variant (``opt.c``, the sources argon2-cffi-bindings
ships, taken from its sdist of the installed version) with AVX2, as a cffi module the
platform calls with a reused buffer (idp/argon2_pool.py).

Optional: without an x86-64 CPU with AVX2, a C compiler, or the sdist, it says why and
leaves the platform on libsodium. ``--check`` only reports whether the module loads.
Usage: ``.venv/bin/python scripts/build_argon2_native.py [--check]``.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from pathlib import Path

MODULE = "_idp_argon2"
# The interface used from idp/argon2_pool.py (argon2.h; cffi checks it against the header).
CDEF = """
typedef int (*allocate_fptr)(uint8_t **memory, size_t bytes_to_allocate);
typedef void (*deallocate_fptr)(uint8_t *memory, size_t bytes_to_allocate);
typedef struct Argon2_Context {
    uint8_t *out; uint32_t outlen;
    uint8_t *pwd; uint32_t pwdlen;
    uint8_t *salt; uint32_t saltlen;
    uint8_t *secret; uint32_t secretlen;
    uint8_t *ad; uint32_t adlen;
    uint32_t t_cost; uint32_t m_cost; uint32_t lanes; uint32_t threads; uint32_t version;
    allocate_fptr allocate_cbk; deallocate_fptr free_cbk;
    uint32_t flags;
    ...;
} argon2_context;
typedef enum Argon2_type { Argon2_d = ..., Argon2_i = ..., Argon2_id = ... } argon2_type;
#define ARGON2_OK ...
#define ARGON2_DEFAULT_FLAGS ...
int argon2_ctx(argon2_context *context, argon2_type type);
"""
SOURCES = ("argon2.c", "core.c", "blake2/blake2b.c", "encoding.c", "opt.c", "thread.c")


def skip_reason() -> str | None:
    from idp.argon2_pool import cpu_has_avx2  # the same test the platform makes at run time

    if platform.machine() not in ("x86_64", "AMD64"):
        return f"not x86-64 ({platform.machine()})"
    if not cpu_has_avx2():
        return "the CPU has no AVX2"
    if shutil.which(sysconfig.get_config_var("CC").split()[0] if sysconfig.get_config_var("CC")
                    else "cc") is None:
        return "no C compiler"
    return None


def fetch_sources(work: Path) -> Path:
    """The argon2 sources of the installed argon2-cffi-bindings' sdist."""
    version = importlib.metadata.version("argon2-cffi-bindings")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--no-binary", ":all:", "--disable-pip-version-check", "-d", str(work),
                    f"argon2-cffi-bindings=={version}"], check=True)
    (archive,) = work.glob("argon2_cffi_bindings-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    (root,) = work.glob("argon2_cffi_bindings-*/extras/libargon2")
    return root


def build(work: Path) -> Path:
    from cffi import FFI

    root = fetch_sources(work)
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source(MODULE, '#include "argon2.h"',
                   sources=[str(root / "src" / s) for s in SOURCES],
                   include_dirs=[str(root / "include"), str(root / "src")],
                   extra_compile_args=["-O3", "-mavx2", "-fvisibility=hidden"])
    return Path(ffi.compile(tmpdir=str(work / "build")))


def main() -> int:
    if "--check" in sys.argv:
        try:
            __import__(MODULE)
        except ImportError as exc:
            print(f"{MODULE}: not available ({exc})")
            return 1
        print(f"{MODULE}: available")
        return 0
    reason = skip_reason()
    if reason:
        print(f"argon2 native build skipped: {reason}; libsodium computes argon2id")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        try:
            built = build(Path(tmp))
        except Exception as exc:  # noqa: BLE001 - optional: say why and carry on
            print(f"argon2 native build failed ({exc}); libsodium computes argon2id")
            return 0
        target = Path(sysconfig.get_paths()["platlib"]) / built.name
        shutil.copyfile(built, target)
    print(f"argon2 native build: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
