"""Where workers run: in the API process unless ``run_agents`` is off and the bus reaches other
processes; on the in-process bus nothing else can take the work, so they always run here."""

from __future__ import annotations

from pathlib import Path

from onestack.common.config import load_settings
from onestack.image.worker import ImageWorker
from onestack.server import Cloud
from tests.conftest import TEST_ROUNDS


async def test_on_the_memory_bus_workers_run_in_process_even_when_told_not_to(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        data_dir=tmp_path, port=8996, services=["identity", "image"], run_agents=False,
        transport_url="memory://", identity={"password_hash_rounds": TEST_ROUNDS},
    )
    cloud = Cloud(settings)
    await cloud.start()
    try:
        assert cloud.platform.transport.durable is False
        assert [type(agent) for agent in cloud.agents] == [ImageWorker]
    finally:
        await cloud.stop()
