"""Where a sweep config's CPU goes inside a Dask task: the same configs through the same task function
(`workbench.sweep.tasks.pipeline_trials`), in this process's main thread, in a thread of this process, and in
the workers of the LocalCluster `workbench.sweep.connect` starts, side by side.

    .venv/bin/python benchmarks/bench_sweep_task.py MODEL_FOLDER [CONFIGS=60]

MODEL_FOLDER: a stored default-pipeline artefact on MovieLens-100K (`bench_sweep.py --model` takes the same).
Per config, printed for each place: the task thread's CPU (`time.thread_time`), the process's CPU, wall,
time in the garbage collector and its full collections, minor page faults (`getrusage`), involuntary
context switches, the thread settings and the malloc environment. Environment knobs: AB_MODE (all, local,
thread, cluster), AB_WORKERS (1), AB_ENV (extra worker environment, ``K=V,K=V``: overridden by `connect`'s
own settings for the keys it sets), AB_PROF=1 (a cProfile of each place's configs).
The first and last lines give the load average; a loaded machine's figures are not final.
"""
import os
import pickle
import sys

from workbench.store import DataSpec, load_pipeline, verify
from workbench.sweep import evaluation_users, load_sweep
from workbench.sweep.tasks import EvalInputs, pipeline_trials


def measured(payloads, inputs, upstream, profile=False):
    import gc
    import os
    import threading
    import time
    gct = [0.0, 0]; st = {}
    def cb(phase, info):
        if phase == "start": st["t"] = time.thread_time()
        else: gct[0] += time.thread_time() - st["t"]; gct[1] += info["generation"] == 2
    gc.callbacks.append(cb)
    import resource
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0, c0, w0 = time.thread_time(), time.process_time(), time.perf_counter()
    if profile:
        import cProfile
        import io
        import pstats
        pr = cProfile.Profile(); pr.enable()
    pipeline_trials(payloads, inputs, upstream)
    if profile:
        pr.disable(); s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(12); prof = s.getvalue()
    else:
        prof = ""
    t1, c1, w1 = time.thread_time(), time.process_time(), time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    gc.callbacks.remove(cb)
    k = len(payloads)
    return {"thread_ms": (t1 - t0) / k * 1e3, "process_ms": (c1 - c0) / k * 1e3, "wall_ms": (w1 - w0) / k * 1e3,
            "gc_ms": gct[0] / k * 1e3, "gen2": gct[1], "gc_objects": len(gc.get_objects()), "threads": threading.active_count(),
            "minflt": (r1.ru_minflt - r0.ru_minflt) / k, "nivcsw": (r1.ru_nivcsw - r0.ru_nivcsw) / k,
            "gc_threshold": gc.get_threshold(), "gc_frozen": gc.get_freeze_count(), "pid": os.getpid(),
            "env": {v: os.environ.get(v) for v in os.environ if "MALLOC" in v or "THREADS" in v},
            "prof": prof}

def show(tag, r):
    print(tag, {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items() if k != "prof"}, flush=True)


if __name__ == '__main__':
    model = sys.argv[1]; n = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    spec = load_sweep("configs/sweep_rerank.toml")
    trials = spec.trials()[:n]
    manifest = verify(model)
    train, test = DataSpec(**manifest["data"]).load("data")
    inputs = EvalInputs(train, test, evaluation_users(test))
    pipe = load_pipeline(model, train)
    ranked = pipe.rank_stage(inputs.users)
    upstream = {"ranked": ranked, "key": manifest["key"], "trained": False, "seconds": 0.0, "cpu_seconds": 0.0, "where": "x"}
    payloads = [{"config_id": t.config_id, "config": t.config_dict, "ks": list(spec.ks(t.config.k)),
                 "graded": spec.graded, "metrics": list(spec.metrics)} for t in trials]
    
    mode = os.environ.get("AB_MODE", "all")
    prof = os.environ.get("AB_PROF") == "1"
    print("load", os.getloadavg(), flush=True)
    if mode in ("all", "local"):
        measured(payloads[:5], inputs, upstream)
        local_inputs = pickle.loads(pickle.dumps(inputs, protocol=5))
        local_up = pickle.loads(pickle.dumps(upstream, protocol=5))
        r = measured(payloads, local_inputs, local_up, prof); show("local", r)
        if prof: print(r["prof"])
    if mode in ("all", "thread"):
        import threading
        measured(payloads[:5], inputs, upstream)
        box = {}
        th = threading.Thread(target=lambda: box.update(r=measured(payloads, inputs, upstream, prof)))
        th.start(); th.join(); show("local thread", box["r"])
    if mode in ("all", "cluster"):
        from workbench.sweep import connect
        nw = int(os.environ.get("AB_WORKERS", "1"))
        import dask
        extra = dict(kv.split("=") for kv in os.environ.get("AB_ENV", "").split(",") if kv)
        dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in extra.items()})
        print("worker env extra", extra)
        with connect(workers=nw) as c:
            c.wait_for_workers(nw)
            inp = c.scatter(inputs, broadcast=True)
            up = c.scatter(upstream, broadcast=True)
            ws = list(c.scheduler_info()["workers"])
            c.gather([c.submit(measured, payloads[:5], inp, up, workers=[w], pure=False) for w in ws])
            futs = [c.submit(measured, payloads, inp, up, prof, workers=[w], pure=False) for w in ws]
            for r in c.gather(futs):
                show(f"worker({nw})", r)
                if prof: print(r["prof"])
    print("load", os.getloadavg(), flush=True)
