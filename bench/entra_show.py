"""`adminkit account show` on Entra ID as a whole process, against a bare httpx script.

The Graph fake (adminkit.lab.graph_fake) runs on 127.0.0.1 over HTTPS (no added
latency). Each round runs, alternating and in a fresh process each:

1. adminkit: `adminkit -p bench account show jnovak -o json` (profile with a client
   secret; --certificate: with the app's certificate, which signs a client assertion);
2. bare: a script that imports httpx, gets a token with the same client-credentials POST
   and GETs the same user (`/users/{upn}?$select=…`), printing its name.

It prints the median and spread of each, and the median of the paired ratios (goals:
adminkit < 0.3 s and <= 1.5x bare). A benchmark reports; it does not assert.

    python bench/entra_show.py --rounds 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adminkit.lab import graph_fake, graph_state
from adminkit.lab.graph_token import App

CLIENT = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
SECRET = "Bench~Secret~0123456789abcdefXYZ"
BARE = '''
import ssl, sys
import httpx
base, tenant, client, secret_file, ca, upn = sys.argv[1:]
with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as http:
    token = http.post(f"{base}/{tenant}/oauth2/v2.0/token", data={
        "client_id": client, "client_secret": open(secret_file).read(),
        "scope": "https://graph.microsoft.com/.default",
        "grant_type": "client_credentials"}).json()["access_token"]
    user = http.get(f"{base}/v1.0/users/{upn}", params={
        "$select": "id,userPrincipalName,displayName,accountEnabled,mail"},
        headers={"Authorization": "Bearer " + token}).json()
    print(user["displayName"])
'''


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {done.stderr[-500:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--certificate", action="store_true",
                        help="adminkit's profile uses the app's certificate, not a secret")
    args = parser.parse_args()
    import adminkit

    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(adminkit.__file__).parent)], check=False)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.entra_bulk import app_credential

    with tempfile.TemporaryDirectory(prefix="entra-show-") as tmp:
        work = Path(tmp)
        tenant = graph_state.seed()
        fake = graph_fake.start(tenant, work / "tls")
        credential, cert = app_credential()
        fake.issuer.apps[CLIENT] = App(CLIENT, {"User.Read.All", "GroupMember.Read.All",
                                                "RoleManagement.Read.Directory",
                                                "LicenseAssignment.Read.All"},
                                       secret=SECRET, certificates=[cert])
        secret_file = work / "secret"
        secret_file.write_bytes(credential if args.certificate else SECRET.encode())
        secret_file.chmod(0o600)
        (work / "config" / "profiles").mkdir(parents=True)
        (work / "config" / "profiles" / "bench.yaml").write_text(
            f"directory:\n  kind: entra\n  url: {fake.base}/v1.0\n"
            f"  base_dn: {tenant.tenant_id}\n  bind_user: {CLIENT}\n"
            f"  password: file:{secret_file}\n  ca_file: {work / 'tls' / 'ca.pem'}\n"
            f"  upn_suffix: {tenant.domains[0]}\n"
            f"  options: {{authority: '{fake.base}', resource: 'https://graph.microsoft.com',"
            f" credential: {'certificate' if args.certificate else 'secret'}}}\n")
        plain = work / "plain-secret"
        plain.write_text(SECRET)
        bare_py = work / "bare.py"
        bare_py.write_text(BARE)
        env = {**os.environ, "ADMINKIT_CONFIG": str(work / "config"), "NO_COLOR": "1",
               "ADMINKIT_JOURNAL": str(work / "journal.db"), "ADMINKIT_SYSLOG": "off",
               "XDG_STATE_HOME": str(work / "state")}
        env.pop("ADMINKIT_PROFILE", None)
        exe = str(Path(sys.executable).with_name("adminkit"))
        show = [exe, "-p", "bench", "account", "show", "jnovak", "-o", "json"]
        bare = [sys.executable, str(bare_py), fake.base, tenant.tenant_id, CLIENT,
                str(plain), str(work / "tls" / "ca.pem"), f"jnovak@{tenant.domains[0]}"]
        timed(show, env)  # warm the page cache once
        timed(bare, env)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(timed(show, env))
            theirs.append(timed(bare, env))
        fake.close()
    ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True))

    def spread(values: list[float]) -> str:
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        return f"median {statistics.median(values):.3f} s (quartiles {q[0]:.3f}-{q[2]:.3f})"

    print(f"load {os.getloadavg()}; {args.rounds} paired rounds; adminkit with a "
          f"{'certificate' if args.certificate else 'client secret'}")
    print(f"adminkit account show: {spread(ours)}")
    print(f"bare httpx script:     {spread(theirs)}")
    ratio = statistics.median(ratios)
    print(f"ratio adminkit/bare: median {ratio:.2f} (min {ratios[0]:.2f}, max "
          f"{ratios[-1]:.2f})")
    print(f"goals: < 0.3 s {'met' if statistics.median(ours) < 0.3 else 'NOT met'}; "
          f"<= 1.5x {'met' if ratio <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
