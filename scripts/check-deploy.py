#!/usr/bin/env python3
"""Cross-checks of deploy/ that no schema catches: the files must agree
with each other and with the `shoal` binary. Run by scripts/check-deploy.sh
(which also runs the schema validators); needs PyYAML.

    scripts/check-deploy.py [--shoal BIN]

Checks, each printed as PASS or FAIL (exit status 1 if any failed):

* compose: every depends_on target is a service; no host port is published
  twice; the HAProxy and Prometheus configs and the coordinator list name
  services that exist, on the ports the image's ENV makes them listen on;
  a coordinator's --peer is the other coordinator;
* k8s: kustomization.yaml lists every manifest in deploy/k8s and only
  those; Services select pods of some workload and their named target
  ports exist there; probes use declared ports; envFrom names a ConfigMap
  or Secret that exists; the HPA and PDBs point at workloads that exist;
  the StatefulSet's serviceName is a headless Service; SHOAL_COORDINATOR
  names the StatefulSet's pods under that Service;
* both: every SHOAL_* variable they set is one the binary reads (from
  crates/shoal/src/main.rs), and with --shoal, every flag they pass is in
  that command's --help.
"""

import argparse
import fnmatch
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

# The image's listen addresses (deploy/Dockerfile's ENV): the compose and
# k8s files rely on them.
FRONTEND_PG, FRONTEND_HTTP = 5432, 8432
COORD_GRPC, COORD_HTTP = 5440, 8440

# Variables read by something other than the shoal binary.
NOT_SHOAL = {"SHOAL_PEER_HTTP_PORT"}  # deploy/shoal-coordinator.sh

failures = []
passes = 0


def check(ok, what, detail=""):
    global passes
    if ok:
        passes += 1
        print(f"PASS: {what}")
    else:
        failures.append(what)
        print(f"FAIL: {what}{': ' + detail if detail else ''}")


def shoal_env_vars():
    """Every SHOAL_* variable the binary declares (clap `env = "..."`, in
    any source file of crates/shoal)."""
    text = "".join(p.read_text() for p in sorted((ROOT / "crates/shoal/src").glob("*.rs")))
    return set(re.findall(r'env\s*=\s*"(SHOAL_[A-Z0-9_]+)"', text))


def dockerfile_env():
    text = (DEPLOY / "Dockerfile").read_text()
    m = re.search(r"^ENV (.*?)(?:\n(?!\s))", text, re.S | re.M)
    assert m, "no ENV in deploy/Dockerfile"
    return dict(re.findall(r"(SHOAL_[A-Z_]+)=(\S+)", m.group(1)))


def help_flags(shoal, sub):
    out = subprocess.run(
        [shoal, sub, "--help"], capture_output=True, text=True, check=True
    ).stdout
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)", out, re.M))


def flags_of(args):
    return [a.split("=", 1)[0] for a in args if a.startswith("--")]


def hostport(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


# --- the image ----------------------------------------------------------


def check_image():
    env = dockerfile_env()
    want = {
        "SHOAL_LISTEN": f"0.0.0.0:{FRONTEND_PG}",
        "SHOAL_HTTP": f"0.0.0.0:{FRONTEND_HTTP}",
        "SHOAL_COORDINATOR_LISTEN": f"0.0.0.0:{COORD_GRPC}",
        "SHOAL_COORDINATOR_HTTP": f"0.0.0.0:{COORD_HTTP}",
    }
    check(env == want, "Dockerfile ENV sets the listen addresses deploy/ relies on", f"{env}")
    text = (DEPLOY / "Dockerfile").read_text()
    exposed = set(map(int, re.findall(r"^EXPOSE (.*)$", text, re.M)[0].split()))
    check(
        exposed == {FRONTEND_PG, FRONTEND_HTTP, COORD_GRPC, COORD_HTTP},
        "Dockerfile EXPOSEs those ports",
        f"{sorted(exposed)}",
    )
    # What the build reads must reach the builder: COPY sources exist, and
    # .dockerignore keeps none of the workspace out (the crates' Cargo.toml
    # files name the benches).
    ignored = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = ["Cargo.toml", "Cargo.lock", "crates", "proto", "benches", "deploy/shoal-coordinator.sh"]
    needed += [src for src in re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", text, re.M) if src != "."]
    kept_out = [n for n in needed if any(fnmatch.fnmatch(n, pat.lstrip("/")) for pat in ignored)]
    missing = [n for n in needed if not (ROOT / n).exists()]
    check(not kept_out and not missing, "Dockerfile: what the build needs exists and is not in .dockerignore",
          f"ignored {kept_out}, missing {missing}")
    check(
        re.search(r'^ENTRYPOINT \["shoal"\]', text, re.M) is not None
        and re.search(r"^USER (?!0|root)", text, re.M) is not None,
        "Dockerfile runs shoal as a non-root user",
    )


# --- docker compose -----------------------------------------------------


def check_compose(known_env, shoal):
    doc = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = doc["services"]
    names = set(services)

    bad = [
        f"{s} -> {t}"
        for s, spec in services.items()
        for t in (spec.get("depends_on") or [])
        if t not in names
    ]
    check(not bad, "compose: every depends_on target is a service", ", ".join(bad))

    published = []
    for s, spec in services.items():
        for p in spec.get("ports") or []:
            parts = str(p).split(":")
            host = ":".join(parts[:-1]) if len(parts) > 1 else parts[0]
            published.append((host, s))
    seen, dup = {}, []
    for host, s in published:
        if host in seen:
            dup.append(f"{host} ({seen[host]}, {s})")
        seen[host] = s
    check(not dup, "compose: no host port is published twice", ", ".join(dup))
    loopback = all(h.startswith("127.0.0.1:") for h, _ in published)
    check(loopback, "compose: ports are published on 127.0.0.1 only (frontends use trust)")
    check(
        any(h == "127.0.0.1:6432" and s == "haproxy" for h, s in published),
        "compose: HAProxy publishes the client port 6432",
    )

    frontends = sorted(
        s for s, spec in services.items() if (spec.get("command") or [""])[0] == "frontend"
    )
    coords = sorted(
        s for s, spec in services.items() if spec.get("entrypoint") == ["shoal-coordinator"]
    )
    check(len(frontends) == 3 and len(coords) == 2, "compose: three frontends and two coordinators",
          f"{frontends} {coords}")

    # Each coordinator's --peer is the other one; one of them is --first.
    peers_ok, firsts = True, 0
    for c in coords:
        cmd = services[c]["command"]
        peer = cmd[cmd.index("--peer") + 1]
        other = [o for o in coords if o != c][0]
        peers_ok &= hostport(peer) == (other, COORD_GRPC)
        firsts += "--first" in cmd
        adv = services[c]["environment"].get("SHOAL_COORDINATOR_ADVERTISE")
        peers_ok &= adv == f"{c}:{COORD_GRPC}"
    check(peers_ok and firsts == 1,
          "compose: each coordinator's --peer is the other, advertised by its service name, one --first")

    lists_ok = True
    for f in frontends:
        env = services[f]["environment"]
        addrs = [hostport(a) for a in env["SHOAL_COORDINATOR"].split(",")]
        lists_ok &= sorted(addrs) == sorted((c, COORD_GRPC) for c in coords)
        lists_ok &= env.get("SHOAL_STORE", "").startswith("s3://")
    check(lists_ok, "compose: frontends list both coordinators and an s3:// store")

    # HAProxy: every frontend, by name, on the container ports.
    cfg = (DEPLOY / "haproxy-compose.cfg").read_text()
    servers = re.findall(r"^\s*server\s+\S+\s+(\S+)\s+check\s+port\s+(\d+)", cfg, re.M)
    got = sorted((hostport(a)[0], hostport(a)[1], int(p)) for a, p in servers)
    want = sorted((f, FRONTEND_PG, FRONTEND_HTTP) for f in frontends)
    check(got == want, "compose: haproxy-compose.cfg checks every frontend service on its ports",
          f"{got} != {want}")
    hap = services["haproxy"]
    check(any("haproxy-compose.cfg" in v for v in hap.get("volumes", [])),
          "compose: the haproxy service mounts haproxy-compose.cfg")

    # Prometheus: every frontend and coordinator, on the HTTP ports.
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = {
        hostport(t)
        for job in prom["scrape_configs"]
        for sc in job.get("static_configs", [])
        for t in sc["targets"]
        if not t.startswith("localhost:")
    }
    want = {(f, FRONTEND_HTTP) for f in frontends} | {(c, COORD_HTTP) for c in coords}
    check(targets == want, "compose: prometheus.yml scrapes every frontend and coordinator",
          f"{sorted(targets)} != {sorted(want)}")

    used = {k for spec in services.values() for k in (spec.get("environment") or {})
            if k.startswith("SHOAL_")}
    unknown = sorted(used - known_env - NOT_SHOAL)
    check(not unknown, "compose: every SHOAL_* variable is one the binary reads", ", ".join(unknown))

    if shoal:
        bad = []
        for f in frontends:
            cmd = services[f]["command"]
            bad += [x for x in flags_of(cmd[1:]) if x not in help_flags(shoal, "frontend")]
        for c in coords:
            # The wrapper's own options, then `shoal coordinator` flags.
            rest = [a for a in services[c]["command"] if a not in ("--first",)]
            rest = rest[2:] if rest[:1] == ["--peer"] else rest
            bad += [x for x in flags_of(rest) if x not in help_flags(shoal, "coordinator")]
        check(not bad, "compose: every flag is in `shoal <command> --help`", ", ".join(bad))


# --- kubernetes ---------------------------------------------------------


def load_k8s():
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kust["resources"])
    present = {p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"}
    check(listed == present, "k8s: kustomization.yaml lists every manifest and only those",
          f"listed {sorted(listed)}, present {sorted(present)}")
    docs = []
    for name in sorted(listed & present):
        for d in yaml.safe_load_all((K8S / name).read_text()):
            if d:
                docs.append(d)
    return kust, docs


def pod_templates(docs):
    return {
        (d["kind"], d["metadata"]["name"]): d["spec"]["template"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def check_k8s(known_env, shoal):
    kust, docs = load_k8s()
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    templates = pod_templates(docs)

    check(all(d["kind"] == "Namespace" or "namespace" not in d["metadata"] for d in docs)
          and kust.get("namespace") in by_kind.get("Namespace", {}),
          "k8s: the kustomization sets the namespace it creates")

    # Services select pods and their named target ports exist.
    svc_ok, detail = True, []
    for name, svc in by_kind.get("Service", {}).items():
        sel = svc["spec"]["selector"]
        hits = [t for t in templates.values() if matches(sel, t["metadata"]["labels"])]
        if not hits:
            svc_ok = False
            detail.append(f"{name} selects no pods")
            continue
        ports = {p["name"]: p["containerPort"] for t in hits
                 for c in t["spec"]["containers"] for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            tp = p.get("targetPort", p["port"])
            if isinstance(tp, str) and tp not in ports:
                svc_ok = False
                detail.append(f"{name}: no container port named {tp}")
    check(svc_ok, "k8s: Services select pods and name ports they declare", "; ".join(detail))

    # Probes use declared ports; envFrom names objects that exist.
    probe_ok, env_ok, detail, env_detail = True, True, [], []
    for (kind, name), t in templates.items():
        for c in t["spec"]["containers"]:
            names = {p["name"] for p in c.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                spec = c.get(probe)
                if not spec:
                    continue
                port = (spec.get("httpGet") or spec.get("tcpSocket") or {}).get("port")
                if isinstance(port, str) and port not in names:
                    probe_ok = False
                    detail.append(f"{name}/{c['name']} {probe} port {port}")
        for c in t["spec"]["containers"] + t["spec"].get("initContainers", []):
            for ref in c.get("envFrom", []):
                for key, kind_ in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if key in ref and ref[key]["name"] not in by_kind.get(kind_, {}):
                        env_ok = False
                        env_detail.append(f"{name}: no {kind_} {ref[key]['name']}")
    check(probe_ok, "k8s: probes use the container's declared ports", "; ".join(detail))
    check(env_ok, "k8s: envFrom names a ConfigMap or Secret that exists", "; ".join(env_detail))

    # Frontends: readiness on /health, liveness not (a re-joining frontend
    # answers 503 there and must not be killed for it).
    fe = [t for (k, _), t in templates.items() if k == "Deployment"][0]
    c = fe["spec"]["containers"][0]
    check(c["readinessProbe"]["httpGet"]["path"] == "/health"
          and c["livenessProbe"].get("httpGet", {}).get("path") != "/health",
          "k8s: frontends are ready on /health and alive without it")
    check(fe["spec"].get("terminationGracePeriodSeconds", 30) >= 30
          and "preStop" in c.get("lifecycle", {}),
          "k8s: frontends get a preStop pause and time to finish sessions on SIGTERM")

    # HPA and PDBs point at workloads.
    hpa_ok = all((h["spec"]["scaleTargetRef"]["kind"], h["spec"]["scaleTargetRef"]["name"]) in templates
                 for h in by_kind.get("HorizontalPodAutoscaler", {}).values())
    check(hpa_ok and by_kind.get("HorizontalPodAutoscaler"), "k8s: the HPA scales a Deployment that exists")
    pdb_ok = all(any(matches(p["spec"]["selector"]["matchLabels"], t["metadata"]["labels"])
                     for t in templates.values())
                 for p in by_kind.get("PodDisruptionBudget", {}).values())
    check(pdb_ok and by_kind.get("PodDisruptionBudget"), "k8s: every PDB selects pods")

    # The StatefulSet, its headless Service, and SHOAL_COORDINATOR.
    sts = list(by_kind["StatefulSet"].values())[0]
    svc_name = sts["spec"]["serviceName"]
    svc = by_kind["Service"].get(svc_name, {})
    check(svc.get("spec", {}).get("clusterIP") == "None"
          and svc["spec"].get("publishNotReadyAddresses") is True,
          "k8s: the StatefulSet's serviceName is a headless Service publishing unready pods")
    cmd = sts["spec"]["template"]["spec"]["containers"][0]["command"]
    check(cmd[:3] == ["shoal-coordinator", "--statefulset", svc_name] and sts["spec"]["replicas"] == 2,
          "k8s: two coordinators run shoal-coordinator --statefulset with that Service")
    cm = list(by_kind["ConfigMap"].values())[0]["data"]
    want = [f"{sts['metadata']['name']}-{i}.{svc_name}:{COORD_GRPC}" for i in range(2)]
    check(cm["SHOAL_COORDINATOR"].split(",") == want,
          "k8s: SHOAL_COORDINATOR names both coordinator pods", cm["SHOAL_COORDINATOR"])
    check(cm["SHOAL_STORE"].startswith("s3://"), "k8s: the store is an s3:// URL")
    unknown = sorted(k for k in cm if k.startswith("SHOAL_") and k not in known_env)
    check(not unknown, "k8s: every SHOAL_* variable is one the binary reads", ", ".join(unknown))
    secret = list(by_kind["Secret"].values())[0]
    data = secret.get("stringData", {})
    check(set(data) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
          and all("REPLACE" in v for v in data.values()),
          "k8s: the Secret holds placeholder S3 credentials only")

    if shoal:
        bad = []
        for (kind, name), t in templates.items():
            for c in t["spec"]["containers"]:
                args = c.get("args") or []
                if args[:1] == ["frontend"]:
                    bad += [x for x in flags_of(args[1:]) if x not in help_flags(shoal, "frontend")]
        check(not bad, "k8s: every flag is in `shoal <command> --help`", ", ".join(bad))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shoal", help="a shoal binary whose --help the flags are checked against")
    args = ap.parse_args()
    known_env = shoal_env_vars()
    check(len(known_env) > 10, "the binary's SHOAL_* variables are readable from main.rs")
    check_image()
    check_compose(known_env, args.shoal)
    check_k8s(known_env, args.shoal)
    print(f"check-deploy.py: {passes} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
