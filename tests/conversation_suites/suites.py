"""Suites written for these tests: turns that pass on the shipped demo store, and turns that
fail on purpose (the expected article is another one)."""

from __future__ import annotations

PASSING = """
conversations:
  - name: canada, then a person
    category: shipping
    turns:
      - say: do you ship to canada?
        expect: {kind: answer, article: shipping-to-canada, handoff: false}
      - say: I want to talk to a person
        expect: {kind: handoff, handoff_reason: explicit_request}
  - name: a signed-in customer asks where an order is
    category: orders
    customer: {id: "cust-ada", email: "ada@example.com", name: "Ada"}
    turns:
      - say: where is my order LS-10042?
        expect:
          kind: intent
          intent: order_status
          slots: {order_number: LS-10042}
          reply_contains: would call the order_status action
"""

FAILING = """
conversations:
  - name: canada is not the return policy
    category: shipping
    turns:
      - say: do you ship to canada?
        expect: {article: how-to-start-a-return, reply_not_contains: canada}
      - say: I want to talk to a person
        expect: {handoff: false}
      - say: hello?
"""
