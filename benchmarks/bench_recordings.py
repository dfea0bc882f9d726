"""Recordings download: `cobrowse recordings download ID... --concurrency C` of N recordings of S MB
each from the sandbox's media origin, against curl fetching the same signed URLs with the same
concurrency. The target row's curl is like for like with the CLI: one process, C transfers at a time
over C kept-alive connections (`curl --parallel --parallel-max C`, handed the URLs beforehand); curl as a
shell loop would run it (`xargs -P C curl`, a process and a connection per file) is shown beside. Ratios,
none hidden: the target row compares the CLI's whole command (start-up, one API call + the actions log
per recording, the videos) with curl's transfer alone; "whole vs whole" adds to curl the time those 50
API calls took; "transfer only" takes from the CLI its start-up (a re-run in which every file is already
complete: no network); "transport only" runs the client's media fetcher alone (a small Python script, one
process) on curl's URLs: no start-up of the CLI, no API calls, no actions logs. Every CLI run is checked
byte-for-byte in size and for a bearer token reaching the media origin. CPU (user + sys of the process
tree) and the 1-minute load average are shown beside: the machine is shared, so the CLI and curl take
turns going first (the load drifts within a round). Like curl, the CLI leaves flushing to the OS by
default; `--fsync` (measured too, informative) waits for the disk before each rename.

The package's bytecode is compiled first, as `pip install` of a wheel does: with PYTHONDONTWRITEBYTECODE
set (as on our dev machines) an editable install otherwise recompiles ~40 modules on every run (~0.2 s of
CPU per start, measured with cProfile), which no user pays.

Peak RSS: the same download of 10 files of 10 MB and of 100 MB; streaming means it stays flat.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_harness import Row, Sandbox, checked, cobrowse_exe, median, progress, python_exe, run_measured, secs, verdict

SECTION = "recordings"
CONCURRENCY = 4
THROUGHPUT_TARGET = 0.9
RSS_TARGET = 1.2
MB = 1_000_000


def _recorded_ids(sandbox: Sandbox, n: int) -> list[str]:
    req = urllib.request.Request(sandbox.url + "/api/1/sessions?agent=all&state=ended&limit=1000",
                                 headers={"Authorization": f"Bearer {sandbox.token}"})
    with urllib.request.urlopen(req, timeout=60) as res:
        ids = [s["id"] for s in json.loads(res.read()) if s.get("recorded")]
    if len(ids) < n:
        raise RuntimeError(f"the sandbox has only {len(ids)} recorded sessions, {n} needed")
    return ids[:n]


def _video_urls(sandbox: Sandbox, ids: list[str]) -> list[str]:
    urls = []
    for sid in ids:
        req = urllib.request.Request(f"{sandbox.url}/api/1/sessions/{sid}/recording",
                                     headers={"Authorization": f"Bearer {sandbox.token}"})
        with urllib.request.urlopen(req, timeout=60) as res:
            urls.append(json.loads(res.read())["video"])
    return urls


def cli_run(sandbox: Sandbox, env: dict, ids: list[str], size: int, out: Path, *extra: str, keep: bool = False):
    before = sandbox.control("GET", "/_sandbox/media")["bearer_seen"]
    argv = [cobrowse_exe(), "recordings", "download", *ids, "--dir", str(out), "--concurrency", str(CONCURRENCY),
            "--ndjson", *extra]
    s = checked(run_measured(argv, env=env, capture=True, timeout=600), "recordings download")
    outcomes = [json.loads(line)["outcome"] for line in s.stdout.splitlines() if line.strip()]
    sizes = [(out / f"{sid}.mp4").stat().st_size for sid in ids]
    if outcomes.count("downloaded") != len(ids) or set(sizes) != {size}:
        raise RuntimeError(f"download was wrong: {outcomes.count('downloaded')}/{len(ids)} downloaded, sizes {set(sizes)}")
    if sandbox.control("GET", "/_sandbox/media")["bearer_seen"] != before:
        raise RuntimeError("a bearer token reached the media origin")
    if not keep:
        shutil.rmtree(out)
    return s


def cli_startup(env: dict, ids: list[str], out: Path) -> float:
    """The same command once every file is complete: start-up and the skip checks, no network."""
    argv = [cobrowse_exe(), "recordings", "download", *ids, "--dir", str(out), "--concurrency", str(CONCURRENCY),
            "--ndjson"]
    s = checked(run_measured(argv, env=env, capture=True, timeout=600), "recordings download (all present)")
    if [json.loads(line)["outcome"] for line in s.stdout.splitlines() if line.strip()] != ["already_downloaded"] * len(ids):
        raise RuntimeError("the re-run did not skip every complete recording")
    shutil.rmtree(out)
    return s.wall


def curl_run(urls: list[str], size: int, out: Path, *, parallel: bool = True):
    """`parallel`: one curl, CONCURRENCY transfers at a time over kept-alive connections (as the CLI does);
    else one curl process per file, CONCURRENCY at a time (`xargs -P`)."""
    out.mkdir()
    if parallel:
        config = "".join(f'url = "{url}"\noutput = "{out / str(i)}"\n' for i, url in enumerate(urls))
        argv = ["curl", "-sS", "--fail", "--parallel", "--parallel-max", str(CONCURRENCY), "--config", "-"]
        s = run_measured(argv, stdin_text=config, timeout=600)
    else:
        args = "\n".join(f"{out / str(i)}\n{url}" for i, url in enumerate(urls))
        script = f"xargs -d '\\n' -P {CONCURRENCY} -n 2 sh -c 'curl -sS --fail -o \"$0\" \"$1\"'"
        s = run_measured(["sh", "-c", script], stdin_text=args + "\n", timeout=600)
    if s.rc != 0 or len(list(out.iterdir())) != len(urls) or {p.stat().st_size for p in out.iterdir()} != {size}:
        raise RuntimeError(f"curl run failed (rc {s.rc}): {s.stderr.strip()[-200:]}")
    shutil.rmtree(out)
    return s


def _curl_parallel() -> bool:
    """curl >= 7.66 has --parallel."""
    import subprocess

    version = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False).stdout.split()[1:2]
    try:
        return tuple(int(p) for p in version[0].split(".")[:2]) >= (7, 66)
    except (IndexError, ValueError):
        return False


FETCHER_SCRIPT = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from cobrowse_cli.client.media import MediaFetcher
urls, out, concurrency = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
fetcher = MediaFetcher("http://127.0.0.1", max_connections=concurrency)
def one(i):
    with open(f"{out}/{i}", "wb") as f:
        fetcher.download(urls[i], f)
with ThreadPoolExecutor(concurrency) as pool:
    list(pool.map(one, range(len(urls))))
fetcher.close()
"""


def fetcher_run(urls: list[str], size: int, out: Path):
    """The client's media transport alone on the URLs curl gets: like for like with curl's transfer."""
    out.mkdir()
    s = checked(run_measured([python_exe(), "-c", FETCHER_SCRIPT, json.dumps(urls), str(out), str(CONCURRENCY)],
                             timeout=600), "media fetcher")
    if {p.stat().st_size for p in out.iterdir()} != {size} or len(list(out.iterdir())) != len(urls):
        raise RuntimeError("the media fetcher run was wrong")
    shutil.rmtree(out)
    return s


def _compile_package() -> None:
    import compileall

    import cobrowse_cli

    compileall.compile_dir(Path(cobrowse_cli.__file__).parent, quiet=1)


def run(sandbox: Sandbox, home: Path, *, quick: bool) -> list[Row]:
    if not shutil.which("curl"):
        return [Row(SECTION, "download vs curl", "curl is not installed", result="n/a")]
    _compile_package()
    parallel = _curl_parallel()
    n, size = (10, 2 * MB) if quick else (50, 20 * MB)
    small, big = (1 * MB, 10 * MB) if quick else (10 * MB, 100 * MB)
    runs = 1 if quick else 5
    env = sandbox.cli_env(home)
    sandbox.reset(sessions=500, active=10)
    ids = _recorded_ids(sandbox, n)
    work = Path(tempfile.mkdtemp(prefix="bench-rec-", dir=home))
    cli_walls, curl_walls, cli_cpu, fsync_walls, api_walls, startup_walls, curl_cpu = [], [], [], [], [], [], []
    fetch_walls, fetch_cpu, xargs_walls, xargs_cpu, loads = [], [], [], [], [os.getloadavg()[0]]
    try:
        sandbox.control("POST", "/_sandbox/media", {"reset": True, "video_bytes": size})
        for i in range(runs):
            started = time.perf_counter()
            urls = _video_urls(sandbox, ids)
            api_walls.append(time.perf_counter() - started)

            for step in ("cli", "curl") if i % 2 == 0 else ("curl", "cli"):  # the load drifts: take turns
                progress(f"recordings: {n} x {size // MB} MB with {'the CLI' if step == 'cli' else 'curl'}, run {i + 1}/{runs}")
                if step == "cli":
                    s = cli_run(sandbox, env, ids, size, work / "cli", keep=True)
                    cli_walls.append(s.wall)
                    cli_cpu.append(s.cpu)
                    startup_walls.append(cli_startup(env, ids, work / "cli"))
                else:
                    c = curl_run(urls, size, work / "curl", parallel=parallel)
                    curl_walls.append(c.wall)
                    curl_cpu.append(c.cpu)
            if parallel:
                progress(f"recordings: {n} x {size // MB} MB with a curl per file, run {i + 1}/{runs}")
                x = curl_run(urls, size, work / "xargs", parallel=False)
                xargs_walls.append(x.wall)
                xargs_cpu.append(x.cpu)
            progress(f"recordings: {n} x {size // MB} MB with the media fetcher alone, run {i + 1}/{runs}")
            f = fetcher_run(urls, size, work / "fetcher")
            fetch_walls.append(f.wall)
            fetch_cpu.append(f.cpu)
            progress(f"recordings: {n} x {size // MB} MB with the CLI --fsync, run {i + 1}/{runs}")
            fsync_walls.append(cli_run(sandbox, env, ids, size, work / "fsync", "--fsync").wall)
            loads.append(os.getloadavg()[0])
        rss = {}
        for each in (small, big):
            sandbox.control("POST", "/_sandbox/media", {"video_bytes": each})
            progress(f"recordings: peak RSS, 10 x {each // MB} MB")
            rss[each] = median(cli_run(sandbox, env, ids[:10], each, work / "rss").rss_mb for _ in range(min(runs, 3)))
    finally:
        sandbox.control("POST", "/_sandbox/media", {"reset": True})
        shutil.rmtree(work, ignore_errors=True)
    total_mb = n * size / MB
    cli_wall, curl_wall = median(cli_walls), median(curl_walls)
    ratio = curl_wall / cli_wall  # throughput ratio: CLI MB/s over curl MB/s
    api_wall, startup_wall = median(api_walls), median(startup_walls)
    rss_ratio = rss[big] / rss[small]
    fetch_wall = median(fetch_walls)
    gb = total_mb / 1000
    how = f"curl --parallel-max {CONCURRENCY}" if parallel else f"xargs -P {CONCURRENCY} curl (no --parallel in this curl)"
    rows = [
        Row(SECTION, f"download {n} x {size // MB} MB, concurrency {CONCURRENCY}",
            f"{secs(cli_wall)} ({total_mb / cli_wall:,.0f} MB/s)",
            f"{how} {secs(curl_wall)} ({total_mb / curl_wall:,.0f} MB/s): {ratio:.2f}x curl",
            f">= {THROUGHPUT_TARGET}x curl", verdict(ratio >= THROUGHPUT_TARGET),
            raw={"cli_wall": cli_walls, "curl_wall": curl_walls, "cli_cpu": cli_cpu, "curl_cpu": curl_cpu,
                 "paired_ratios": [c / w for c, w in zip(curl_walls, cli_walls)]}),
        Row(SECTION, f"  whole vs whole: curl + its {n} API calls beforehand", secs(cli_wall),
            f"curl {secs(curl_wall + api_wall)} (API {secs(api_wall)}): {(curl_wall + api_wall) / cli_wall:.2f}x curl",
            "(informative)", raw={"api_wall": api_walls}),
        Row(SECTION, "  transfer only: the CLI minus its start-up", f"{secs(cli_wall - startup_wall)} (start-up {secs(startup_wall)})",
            f"curl {secs(curl_wall)}: {curl_wall / (cli_wall - startup_wall):.2f}x curl", "(informative)",
            raw={"startup_wall": startup_walls}),
        Row(SECTION, "  transport only: the media fetcher alone on curl's URLs (its Python start-up included)", secs(fetch_wall),
            f"curl {secs(curl_wall)}: {curl_wall / fetch_wall:.2f}x curl", "(informative)",
            raw={"fetcher_wall": fetch_walls, "fetcher_cpu": fetch_cpu}),
    ]
    if xargs_walls:
        rows.append(Row(SECTION, f"  against a curl process per file (xargs -P {CONCURRENCY}, a connection each)",
                        secs(cli_wall), f"curl {secs(median(xargs_walls))}: {median(xargs_walls) / cli_wall:.2f}x curl",
                        "(informative)", raw={"wall": xargs_walls, "cpu": xargs_cpu}))
    rows += [
        Row(SECTION, "  CPU per GB (user + sys): CLI / fetcher alone / curl" + (" / curl per file" if xargs_cpu else ""),
            f"{median(cli_cpu) / gb:.2f} s / {median(fetch_cpu) / gb:.2f} s",
            f"curl {median(curl_cpu) / gb:.2f} s" + (f" / {median(xargs_cpu) / gb:.2f} s" if xargs_cpu else ""),
            "(informative)"),
        Row(SECTION, "  load average (1 min) over the runs", f"{min(loads):.1f} to {max(loads):.1f}",
            f"on {os.cpu_count()} cores", "(informative)", raw={"load": loads}),
        Row(SECTION, "the same with --fsync (durable before rename)", secs(median(fsync_walls)),
            f"{curl_wall / median(fsync_walls):.2f}x curl", "(informative)", raw={"wall": fsync_walls}),
        Row(SECTION, f"peak RSS, 10 x {big // MB} MB vs 10 x {small // MB} MB",
            f"{rss[big]:.0f} MB vs {rss[small]:.0f} MB", f"{rss_ratio:.2f}x", f"<= {RSS_TARGET}x",
            verdict(rss_ratio <= RSS_TARGET), raw=rss),
    ]
    return rows


if __name__ == "__main__":  # one section alone: python benchmarks/bench_recordings.py [--quick]
    import sys

    with tempfile.TemporaryDirectory() as tmp:
        sb = Sandbox(Path(tmp) / "sandbox", sessions=0, active=0)
        try:
            for row in run(sb, Path(tmp), quick="--quick" in sys.argv):
                print(row)
        finally:
            sb.stop()
