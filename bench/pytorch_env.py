"""What the comparisons with PyTorch share that needs no PyTorch: which BLAS a PyTorch process runs on,
how to install the one its users have, and the summary of alternating rounds."""
import os
import statistics


# How to give PyTorch the BLAS its users have: Debian's python3-torch depends only on the generic libblas3,
# which alone is the reference (netlib) BLAS, several times slower in PyTorch's Linear layers.
INSTALL_OPENBLAS = ("install OpenBLAS (sudo apt-get install libopenblas0-pthread, or bash cmake/install-deps.sh "
                    "--bench): it becomes libblas.so.3 through Debian's alternatives, and PyTorch uses it")


def loaded_blas():
    """{"name", "path", "reference"}: the BLAS this process has mapped (call after importing torch), from
    /proc/self/maps. PyTorch calls the libblas.so.3 it links, so that decides: Debian's reference BLAS
    (…/blas/libblas.so.3, "reference": true) even where OpenBLAS is mapped too (through liblapack.so.3)."""
    with open("/proc/self/maps") as f:
        paths = sorted({line.split()[-1] for line in f if "/" in line.split()[-1]})
    blas = [p for p in paths if os.path.basename(p).startswith("libblas.so")]
    for p in blas:
        where = os.path.realpath(p)
        if os.path.basename(os.path.dirname(where)) == "blas":
            return {"name": "reference BLAS (netlib)", "path": where, "reference": True}
        if "openblas" in where.lower():
            return {"name": "OpenBLAS", "path": where, "reference": False}
    others = [p for p in paths if any(k in os.path.basename(p).lower() for k in ("openblas", "mkl", "blis"))]
    if blas or others:
        p = (blas or others)[0]
        return {"name": os.path.basename(p), "path": p, "reference": False}
    return {"name": "none mapped", "path": "", "reference": False}


def spread(values):
    """(median, min, max) of one figure over alternating rounds."""
    return statistics.median(values), min(values), max(values)
