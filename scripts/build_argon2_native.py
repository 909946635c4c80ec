"""Build ``_idp_argon2``: argon2's own optimised code compiled for this CPU (issue 2).

The argon2-cffi-bindings wheel is compiled for any x86-64 (SSE2 at most), and libsodium,
though vectorised, maps and populates a fresh 19 MiB matrix for every hash — ≈ 6–7 ms of
kernel time per login in a busy server worker (bench/README.md, round 11). This compiles
the reference implementation's optimised variant (``opt.c``, from the argon2 sources the
argon2-cffi-bindings sdist ships, fetched by a pinned URL and SHA-256 — no resolver, no
build backend) with AVX2, as a cffi module the platform calls with a reused buffer
(idp/argon2_pool.py).

Optional: on a machine that is not x86-64 with AVX2, or has no C compiler, it says why and
the platform uses libsodium. A build that is attempted and fails is reported too, and with
``--strict`` (the image) it is an error. ``--check`` reports whether the platform uses it.
Usage: ``python scripts/build_argon2_native.py [--strict | --check]``.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
import sysconfig
import tarfile
import tempfile
import urllib.request
from pathlib import Path

MODULE = "_idp_argon2"
SDIST = ("https://files.pythonhosted.org/packages/76/3b/f7bd1daac24c7017b6d09d05c56bb3f71aaae7"
         "6b2ac4234ed2c00e0dd2d2/argon2_cffi_bindings-26.2.0.tar.gz")
SDIST_SHA256 = "f21ab89bb9850f32b9ca038d9961424bb0d3669d579cbbbfed068cffa6fc0643"
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


def compiler() -> str:
    return (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]


def skip_reason() -> str | None:
    from idp.argon2_pool import cpu_has_avx2  # the same test the platform makes at run time

    if platform.machine() not in ("x86_64", "AMD64"):
        return f"not x86-64 ({platform.machine()})"
    if not cpu_has_avx2():
        return "the CPU has no AVX2"
    if shutil.which(compiler()) is None:
        return f"no C compiler ({compiler()})"
    return None


def fetch_sources(work: Path) -> Path:
    """The argon2 sources of the pinned sdist, checked against its SHA-256."""
    with urllib.request.urlopen(SDIST, timeout=120) as answer:  # noqa: S310 - fixed https URL
        data = answer.read()
    if hashlib.sha256(data).hexdigest() != SDIST_SHA256:
        raise RuntimeError("the downloaded sources do not match their SHA-256")
    archive = work / "sources.tar.gz"
    archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")  # no links out, no absolute paths
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
        from idp.argon2_pool import native

        print(f"{MODULE}: {'in use' if native is not None else 'not in use (libsodium)'}")
        return 0 if native is not None else 1
    reason = skip_reason()
    if reason:
        print(f"argon2 native build skipped: {reason}; libsodium computes argon2id")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        try:
            built = build(Path(tmp))
        except Exception as exc:  # noqa: BLE001 - say why; fatal only with --strict
            print(f"argon2 native build FAILED ({exc}); libsodium computes argon2id")
            return 1 if "--strict" in sys.argv else 0
        target = Path(sysconfig.get_paths()["platlib"]) / built.name
        staged = target.with_name(target.name + ".new")
        shutil.copyfile(built, staged)
        os.replace(staged, target)  # a running worker keeps the old file's pages intact
    print(f"argon2 native build: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
