"""Dependencies of the staff routes: the staff actions, wired to the running service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.agents.flows import StaffActions
from app.deps import BrokerDep, DbDep, SettingsDep


async def staff_actions(db: DbDep, broker: BrokerDep, settings: SettingsDep) -> StaffActions:
    """The staff actions on this service's database and broker."""
    return StaffActions(db=db, broker=broker, settings=settings.agents)


StaffActionsDep = Annotated[StaffActions, Depends(staff_actions)]
