"""Usage control as a connector component.

Puts into ``ctx.components``:

* ``"ngsild.pep"`` — :class:`~connector.enforcement.pep.AgreementPep`, replacing the broker's
  admin-only default: transfer access tokens get the narrowed, counted, recorded access their
  agreement allows;
* ``"enforcement"`` — this component (its usage store, agreement cache and received-data job);
* the DSP's PUSH seam (``dsp.push``) — :class:`~connector.enforcement.push.SubscriptionPush`,
  when the embedded subscriptions engine runs: push transfers become subscriptions under the
  agreement.

Mounted under ``/api/v1`` (admin key): ``GET /pull/{transferId}/<NGSI-LD path>`` (the consumer's
applications pull through their connector, which records the copy for ``delete`` duties) and
``GET /received``. On the root: ``GET /data/v1/datasets/{datasetId}``, the data plane of
datasets served from a plain HTTP source (:mod:`connector.enforcement.http_data`).

Starts after ``provenance`` and ``dsp`` (it needs both), so it is listed last.
"""

from __future__ import annotations

from aiohttp import web

from connector.enforcement import http_data
from connector.enforcement import received as received_api
from connector.enforcement.agreements import AgreementCache
from connector.enforcement.counters import BatchingUsageStore, usage_store_for
from connector.enforcement.evidence import Evidence, on_response_prepare
from connector.enforcement.grants import Grants
from connector.enforcement.notifications import AgreementNotificationGuard
from connector.enforcement.pep import AgreementPep
from connector.enforcement.push import SubscriptionPush
from connector.enforcement.received import Received
from connector.enforcement.settings import enforcement_settings
from connector.http.context import ConnectorContext
from connector.management.api import MANAGEMENT_APP
from connector.ngsild.subscriptions.api import MANAGER as SUBSCRIPTIONS
from connector.ngsild.subscriptions.endpoints import endpoint_rules
from connector.trust.replay import SqlReplayCache

#: where other components leave PEP gates before this one starts (see ``AgreementPep.gates``)
GATES = "enforcement.gates"
#: where other components leave usage meters (see ``AgreementPep.meters``)
METERS = "enforcement.meters"


class EnforcementComponent:
    name = "enforcement"

    def __init__(self) -> None:
        self.pep: AgreementPep | None = None
        self.usage: BatchingUsageStore | None = None
        self.received: Received | None = None
        self.grants: Grants | None = None

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        root.on_response_prepare.append(on_response_prepare)
        received_api.add_routes(root[MANAGEMENT_APP])
        http_data.add_routes(root)  # datasets served from a plain HTTP source

    async def start(self, ctx: ConnectorContext) -> None:
        cfg = enforcement_settings(ctx.settings)
        dsp = ctx.components["dsp"]
        self.usage = BatchingUsageStore(usage_store_for(ctx.engine))
        evidence = Evidence(
            ctx.settings.did,
            ctx.settings.participant.name,
            ctx.components["provenance"],
            durable=cfg.record_before_answer,
            background=ctx.tasks,
        )
        self.grants = grants = Grants(dsp.tokens, ctx.engine)
        dsp.listeners.append(grants.changed)
        self.pep = AgreementPep(
            grants,
            AgreementCache(ctx.engine),
            self.usage,
            evidence,
            replay=SqlReplayCache(ctx.engine),  # DPoP proofs' jti, shared by replicas
        )
        self.pep.notifications = AgreementNotificationGuard(self.pep, ctx.engine)
        self.pep.gates.extend(ctx.components.get(GATES, []))
        self.pep.meters.extend(ctx.components.get(METERS, []))
        ctx.components["ngsild.pep"] = self.pep
        ctx.components["ngsild.notification_guard"] = self.pep.notifications
        manager = ctx.components.get(SUBSCRIPTIONS)
        if manager is not None:  # embedded broker: PUSH transfers become subscriptions
            dsp.push = SubscriptionPush(
                manager,
                self.pep.notifications,
                endpoint_rules(ctx.settings),
            )
        self.received = Received(ctx, cfg.deletion_interval_s)
        ctx.components["enforcement"] = self
        ctx.tasks.spawn(self.received.run(), name="enforcement-received-deletion")

    async def stop(self) -> None:
        if self.usage is not None:
            await self.usage.close()
        if self.grants is not None:
            self.grants.close()
