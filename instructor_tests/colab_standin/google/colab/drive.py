"""drive.mount: the real one asks for access and mounts the student's Drive at `mountpoint`; here the
Drive is a folder that the simulated runtime reset leaves alone, mountpoint/MyDrive."""
from pathlib import Path

from google.colab import record


def mount(mountpoint: str, force_remount: bool = False, **kwargs) -> None:
    (Path(mountpoint) / "MyDrive").mkdir(parents=True, exist_ok=True)
    record("drive.mount", mountpoint=str(mountpoint))
    print(f"Mounted at {mountpoint}")
