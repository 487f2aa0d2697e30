"""Dependencies of the customer routes: the check of a customer's conversation token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.conversations.access import CustomerAccess
from app.deps import provide

CustomerAccessDep = Annotated[CustomerAccess, Depends(provide("customer_access"))]
