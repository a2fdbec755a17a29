"""Run many jobs on a few long-lived workers at once (the bug suites: one worker process per core)."""
import queue
import threading
from typing import Callable, Dict, Hashable, Iterable, List, Tuple, TypeVar

W = TypeVar("W")


def run_all(workers: List[W], jobs: Iterable[Tuple[Hashable, Callable[[W], object]]]) -> Dict[Hashable, object]:
    """{key: what job(worker) returned, or the exception it raised}: each worker takes the next job when
    it is done, so the workers stay busy until the queue is empty."""
    todo: "queue.Queue" = queue.Queue()
    for job in jobs:
        todo.put(job)
    results: Dict[Hashable, object] = {}

    def drain(worker: W) -> None:
        while True:
            try:
                key, job = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[key] = job(worker)
            except Exception as err:  # noqa: BLE001 - the test of that job raises it
                results[key] = err

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def result(results: Dict[Hashable, object], key: Hashable):
    """A job's result, raising what the job raised."""
    value = results[key]
    if isinstance(value, Exception):
        raise value
    return value
