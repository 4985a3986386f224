import cProfile, pstats, time, statistics
from pathlib import Path
from onestack.object.servers.container import ContainerBroker

async def test_profile(cloud, demo):
    c = await demo.container("big")
    svc = next(s for s in cloud.services if s.spec.name == "object")
    b = svc.storage.container_broker(f"AUTH_{demo.project_id}", c)
    b.merge_rows([(f"object-{i:06d}", f"17000{i:05d}.12345", 4096, "application/octet-stream", "d41d8cd98f00b204e9800998ecf8427e", 0, "{}") for i in range(10000)])
    ts = []
    for _ in range(5):
        t = time.perf_counter(); r = await demo.request("GET", f"/{c}", params={"format": "json"}); ts.append(time.perf_counter() - t)
    print("asgi median", statistics.median(ts), min(ts))
    pr = cProfile.Profile(); pr.enable()
    for _ in range(5):
        r = await demo.request("GET", f"/{c}", params={"format": "json"})
    pr.disable()
    pstats.Stats(pr).sort_stats("cumulative").print_stats(25)
