"""`job cancel` of many ids: the profile's bulk limit applies, as it does to a purge.

The only print server of the profile does not answer (nothing listens on its port): a
refusal before any server is asked is exit 4; once allowed, the server is asked (exit 3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PROFILE = """\
description: printing bulk
policy: {bulk_limit: 3}
print_servers:
  - {name: gone, kind: cups, host: 127.0.3.250, port: 9}
"""


def test_cancelling_more_jobs_than_the_bulk_limit_needs_force(env: Any,
                                                              cli: Callable[..., Any]) -> None:
    (env.profiles / "pr.yaml").write_text(PROFILE)
    ids = [str(n) for n in range(1, 10001)]
    refused = cli("-p", "pr", "job", "cancel", *ids)
    assert refused.code == 4, refused.out + refused.err
    assert "10000 jobs" in refused.err and "--force" in refused.err
    assert "gone" not in refused.err  # refused before the server was asked
    within = cli("-p", "pr", "job", "cancel", "1", "2", "3", "3")  # a repeated id is one job
    assert within.code == 3 and "print server gone" in within.out + within.err
    forced = cli("-p", "pr", "-o", "json", "job", "cancel", "--force", *ids[:5])
    assert forced.code == 3, forced.out + forced.err
