"""Start and stop the background parts of the local stack: queue consumers, schedules, the click shipper."""

from __future__ import annotations

from dataclasses import dataclass, field

from multibuzz import topology
from multibuzz.bootstrap import Container

from infra.local.dispatch import ConsumerThread, local_batch_size
from infra.local.scheduler import SchedulerThread
from infra.local.shipper import ShipperProcess


@dataclass
class LocalRuntime:
    container: Container
    run_schedules: bool = True
    ship_clicks: bool = False  # `make serve` turns it on; tests drive the shipper in-process
    threads: list[ConsumerThread | SchedulerThread] = field(default_factory=list)
    shipper: ShipperProcess | None = None

    def start(self) -> None:
        store = self.container.local_queue
        settings = self.container.settings
        store.recover_orphans()  # what a killed server had in flight: back now rather than in 720 s
        for fn in topology.FUNCTIONS:
            for consumer in fn.consumes:
                for _ in range(settings.local_consumer_threads):
                    thread = ConsumerThread(
                        store,
                        fn.name,
                        consumer,
                        max_attempts=min(settings.queue_max_attempts, topology.queue(consumer.queue).max_receive_count),
                        backoff_seconds=settings.queue_backoff_seconds,
                        batch_size=local_batch_size(consumer, settings),
                    )
                    thread.start()
                    self.threads.append(thread)
        if self.ship_clicks and settings.queue_backend == "local":  # on SQS the redirect sends directly
            self.shipper = ShipperProcess()
            self.shipper.start()
        if self.run_schedules:
            scheduler = SchedulerThread()
            scheduler.start()
            self.threads.append(scheduler)

    def stop(self) -> None:
        if self.shipper is not None:
            self.shipper.stop()
            self.shipper = None
        for thread in self.threads:
            thread.stop()
        for thread in self.threads:
            thread.join(timeout=5)
        self.threads.clear()
