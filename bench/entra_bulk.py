"""Bulk import on Entra ID: adminkit against msgraph-sdk's one-request-at-a-time loop.

Both run against the Graph fake (adminkit.lab.graph_fake) on 127.0.0.1 over HTTPS, with
a write quota of its own (--rate writes a second, a bucket of --burst seconds; 429 with
Retry-After beyond it) and a latency per request (--latency s, as Graph's: a create
takes a few hundred milliseconds there; a `$batch` item adds --item s):

1. adminkit: `adminkit -p bench account import users.csv --deliver file:DIR`, a process
   of its own with a fresh journal, the profile's defaults (4 workers);
2. the SDK loop: `await client.users.post(User(...))` for each user, one after another,
   msgraph-sdk's GraphServiceClient with an azure-identity credential, as its docs show.

It prints users/s of each, their ratio (goal >= 10x), how busy adminkit kept the
quota (writes done / writes the quota allowed between the first and the last write,
the bucket's start included; goal >= 90 %), the 429s, and checks that every user exists
exactly once and no create was sent twice (conflicts). The SDK loop makes --sdk-users
users (its rate is what is compared). A benchmark reports; it does not assert.

    python bench/entra_bulk.py                   # 1,000 users, 3 rounds
    python bench/entra_bulk.py --users 300 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from adminkit.lab import graph_fake, graph_state
from adminkit.lab.graph_fake import GraphFake, Quota
from adminkit.lab.graph_token import App, app_pem, certificate_of

CLIENT = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
ROLES = {"User.ReadWrite.All", "GroupMember.ReadWrite.All", "Directory.Read.All",
         "RoleManagement.Read.Directory"}


def app_credential() -> tuple[bytes, bytes]:
    """(key + certificate PEM, certificate PEM) of the bench's app."""
    pem = app_pem()
    return pem, certificate_of(pem)


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.tls = work / "tls"
        self.credential, self.cert = app_credential()
        (work / "app.pem").write_bytes(self.credential)
        (work / "app.pem").chmod(0o600)

    def fake(self) -> GraphFake:
        a = self.args
        fake = graph_fake.start(graph_state.seed(), self.tls, latency=a.latency,
                                batch_item=a.item,
                                quota=Quota(limit=int(a.rate * a.burst), window=a.burst))
        fake.issuer.apps[CLIENT] = App(CLIENT, set(ROLES), certificates=[self.cert])
        return fake

    def adminkit(self, fake: GraphFake, n: int, tag: str) -> float:
        config = self.work / f"config-{tag}"
        (config / "profiles").mkdir(parents=True)
        (config / "profiles" / "bench.yaml").write_text(
            f"directory:\n  kind: entra\n  url: {fake.base}/v1.0\n"
            f"  base_dn: {fake.tenant.tenant_id}\n  bind_user: {CLIENT}\n"
            f"  password: file:{self.work / 'app.pem'}\n  ca_file: {self.tls / 'ca.pem'}\n"
            f"  upn_suffix: {fake.tenant.domains[0]}\n"
            f"  options: {{authority: '{fake.base}', resource: 'https://graph.microsoft.com'}}\n")
        csv = self.work / f"users-{tag}.csv"
        csv.write_text("given_name,surname\n" + "".join(f"Bench,{tag}User{k}\n"
                                                        for k in range(n)))
        out = self.work / f"pw-{tag}"
        out.mkdir(mode=0o700)
        env = {**os.environ, "ADMINKIT_CONFIG": str(config), "NO_COLOR": "1",
               "ADMINKIT_JOURNAL": str(self.work / f"journal-{tag}.db"),
               "XDG_STATE_HOME": str(self.work / f"state-{tag}"), "ADMINKIT_SYSLOG": "off"}
        env.pop("ADMINKIT_PROFILE", None)
        exe = Path(sys.executable).with_name("adminkit")
        start = time.perf_counter()
        done = subprocess.run([str(exe), "-p", "bench", "account", "import", str(csv),
                               "--deliver", f"file:{out}"], env=env, capture_output=True,
                              text=True, check=False)
        took = time.perf_counter() - start
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"adminkit import failed ({done.returncode})")
        return took

    def sdk(self, fake: GraphFake, n: int, tag: str) -> float:
        return asyncio.run(self._sdk(fake, n, tag))

    async def _sdk(self, fake: GraphFake, n: int, tag: str) -> float:
        import ssl

        import httpx
        from azure.identity.aio import CertificateCredential
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from msgraph import GraphRequestAdapter, GraphServiceClient
        from msgraph.generated.models.password_profile import PasswordProfile
        from msgraph.generated.models.user import User
        from msgraph_core import GraphClientFactory

        credential = CertificateCredential(
            fake.tenant.tenant_id, CLIENT, certificate_data=self.credential,
            authority=fake.base, connection_verify=str(self.tls / "ca.pem"),
            disable_instance_discovery=True)
        http = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(verify=ssl.create_default_context(
                cafile=str(self.tls / "ca.pem"))))
        auth = AzureIdentityAuthenticationProvider(
            credential, scopes=["https://graph.microsoft.com/.default"],
            allowed_hosts=["127.0.0.1"])
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = fake.base + "/v1.0"
        client = GraphServiceClient(request_adapter=adapter)
        domain = fake.tenant.domains[0]
        start = time.perf_counter()
        for k in range(n):
            login = f"sdk{tag}{k}"
            await client.users.post(User(
                account_enabled=True, display_name=f"Sdk {tag} {k}", mail_nickname=login,
                user_principal_name=f"{login}@{domain}", given_name="Sdk",
                surname=f"{tag}User{k}",
                password_profile=PasswordProfile(password=f"Pw-{k}-{tag}-Xy9!",
                                                 force_change_password_next_sign_in=True)))
        took = time.perf_counter() - start
        await credential.close()
        await http.aclose()
        return took


def busy(fake: GraphFake, rate: float, burst: float) -> tuple[float, int, int, int]:
    """(share of the quota used, writes done, creates 201, conflicts) of a run."""
    writes = [r for r in fake.log if r.method != "GET" and r.path != "/$batch"
              and r.status < 400]
    creates = [r for r in fake.log if r.method == "POST" and r.path == "/users"]
    done = sum(1 for r in creates if r.status == 201)
    conflicts = sum(1 for r in creates if r.status == 400)
    if len(writes) < 2:
        return 0.0, len(writes), done, conflicts
    span = max(r.at for r in writes) - min(r.at for r in writes)
    allowed = rate * burst + rate * span  # the bucket starts full
    return len(writes) / max(allowed, 1.0), len(writes), done, conflicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--sdk-users", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2, help="s per request")
    parser.add_argument("--item", type=float, default=0.002, help="s per $batch item")
    parser.add_argument("--rate", type=float, default=60.0, help="writes/s the quota allows")
    parser.add_argument("--burst", type=float, default=5.0, help="s of writes in the bucket")
    args = parser.parse_args()
    import adminkit

    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(adminkit.__file__).parent)], check=False)
    print(f"load: {os.getloadavg()}; {args.users} users, SDK loop {args.sdk_users}; latency "
          f"{args.latency}s, quota {args.rate:g}/s (bucket {args.burst:g}s)")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="entra-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        for k in range(args.rounds):
            fake = bench.fake()
            took = bench.adminkit(fake, args.users, f"r{k}")
            share, writes, done, conflicts = busy(fake, args.rate, args.burst)
            made = [u for u in fake.tenant.users.values()
                    if str(u["surname"]).startswith(f"r{k}User")]
            ok = len(made) == args.users == done and conflicts == 0 and \
                len({u["userPrincipalName"] for u in made}) == args.users
            throttled = fake.quota.throttled
            fake.close()
            fake = bench.fake()
            sdk = bench.sdk(fake, args.sdk_users, f"s{k}")
            fake.close()
            row = {"adminkit_s": took, "adminkit_rate": args.users / took,
                   "sdk_rate": args.sdk_users / sdk, "busy": share, "429": throttled,
                   "exact": ok, "writes": writes}
            row["ratio"] = row["adminkit_rate"] / row["sdk_rate"]
            rows.append(row)
            print(f"round {k + 1}: adminkit {took:6.2f} s = {row['adminkit_rate']:6.1f} users/s;"
                  f" SDK loop {row['sdk_rate']:5.2f} users/s; ratio {row['ratio']:5.1f}x; "
                  f"quota busy {share:6.1%}; 429s {throttled}; every user once, none "
                  f"twice: {'yes' if ok else 'NO'}")

    def med(key: str) -> str:
        values = sorted(r[key] for r in rows)
        return (f"{statistics.median(values):.2f} (min {values[0]:.2f}, "
                f"max {values[-1]:.2f})")

    print(f"median of {len(rows)} rounds: ratio {med('ratio')} (goal >= 10); quota busy "
          f"{med('busy')} (goal >= 0.90); adminkit users/s {med('adminkit_rate')}; "
          f"SDK users/s {med('sdk_rate')}")
    ratio = statistics.median(r["ratio"] for r in rows)
    share = statistics.median(r["busy"] for r in rows)
    print(f"goals: ratio >= 10x {'met' if ratio >= 10 else 'NOT met'}; quota >= 90 % "
          f"{'met' if share >= 0.9 else 'NOT met'}; exact "
          f"{'met' if all(r['exact'] for r in rows) else 'NOT met'}; load {os.getloadavg()}")


if __name__ == "__main__":
    main()
