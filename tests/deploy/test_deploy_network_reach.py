"""Who can reach whom through the rendered NetworkPolicies, judged the way Kubernetes does: a pod
selected by a policy of a direction admits only what one of those policies' rules allows, and a
connection needs the caller's egress and the callee's ingress both to allow it.

The ledger's report routes (its port 8001) are for the gateway (auditors' reports) and the
checks (`singlepot reconcile`); nothing else in or out of the namespace may call them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.deploy.test_deploy_matches_code import (
    containers,
    named,
    of_kind,
    pod_template,
    port_number,
)

Manifest = dict[str, Any]
# Pods get addresses from a typical cluster pod range, so ipBlock rules are judged too.
POD_NETWORK = ipaddress.IPv4Network("10.244.0.0/16")
LEDGER_CALLERS = {"singlepot-gateway", "singlepot-reconcile", "singlepot-ledger-verify"}


@dataclass
class Pod:
    """One pod as the policies see it: where it runs, its labels, its named ports, its address."""

    name: str
    namespace: str
    labels: dict[str, str]
    address: ipaddress.IPv4Address
    named_ports: dict[str, int] = field(default_factory=dict)


def pods_of(objects: list[Manifest]) -> list[Pod]:
    """A pod for every Deployment, Job and CronJob of an overlay."""
    workloads = of_kind(objects, "Deployment") + of_kind(objects, "Job")
    workloads += of_kind(objects, "CronJob")
    addresses = POD_NETWORK.hosts()
    return [
        Pod(
            name=workload["metadata"]["name"],
            namespace=workload["metadata"]["namespace"],
            labels=pod_template(workload)["metadata"]["labels"],
            address=next(addresses),
            named_ports={
                port["name"]: port["containerPort"]
                for container in containers(workload)
                for port in container.get("ports", [])
                if "name" in port
            },
        )
        for workload in workloads
    ]


def matches(selector: Manifest, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions); the empty selector matches all."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        held = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not held:
            return False
    return True


def namespace_labels(objects: list[Manifest], namespace: str) -> dict[str, str]:
    labels = {"kubernetes.io/metadata.name": namespace}
    for item in of_kind(objects, "Namespace"):
        if item["metadata"]["name"] == namespace:
            labels.update(item["metadata"].get("labels", {}))
    return labels


def peer_admits(objects: list[Manifest], peer: Manifest, policy_namespace: str, pod: Pod) -> bool:
    """Whether one `from`/`to` entry of a rule covers this pod."""
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        return pod.address in ipaddress.ip_network(block["cidr"]) and not any(
            pod.address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if "namespaceSelector" in peer:
        in_namespace = matches(peer["namespaceSelector"], namespace_labels(objects, pod.namespace))
    else:
        in_namespace = pod.namespace == policy_namespace
    return in_namespace and matches(peer.get("podSelector", {}), pod.labels)


def port_admits(rule: Manifest, port: int, callee: Pod) -> bool:
    """Whether a rule's ports cover a TCP connection to this port of the callee."""
    if "ports" not in rule:
        return True
    for allowed in rule["ports"]:
        if allowed.get("protocol", "TCP") != "TCP":
            continue
        if "port" not in allowed:
            return True
        first = allowed["port"]
        first = callee.named_ports.get(first, -1) if isinstance(first, str) else first
        if first <= port <= allowed.get("endPort", first):
            return True
    return False


def allows(objects: list[Manifest], direction: str, subject: Pod, other: Pod, port: int) -> bool:
    """Whether the policies selecting `subject` let it make (Egress) or take (Ingress) this
    connection with `other`; a pod no policy of that direction selects is open."""
    selecting = [
        policy
        for policy in of_kind(objects, "NetworkPolicy")
        if policy["metadata"]["namespace"] == subject.namespace
        and matches(policy["spec"]["podSelector"], subject.labels)
        and direction in policy["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    callee = other if direction == "Egress" else subject
    return any(
        port_admits(rule, port, callee)
        and (
            peers_key not in rule
            or any(
                peer_admits(objects, peer, policy["metadata"]["namespace"], other)
                for peer in rule[peers_key]
            )
        )
        for policy in selecting
        for rule in policy["spec"].get(rules_key, [])
    )


def reaches(objects: list[Manifest], caller: Pod, callee: Pod, port: int) -> bool:
    return allows(objects, "Egress", caller, callee, port) and allows(
        objects, "Ingress", callee, caller, port
    )


def pod_named(pods: list[Pod], name: str) -> Pod:
    (pod,) = [pod for pod in pods if pod.name == name]
    return pod


def ledger_report_port(objects: list[Manifest]) -> int:
    """The port the ledger's Service forwards to, in the ledger's container."""
    (service_port,) = named(objects, "Service", "singlepot-ledger")["spec"]["ports"]
    (container,) = containers(named(objects, "Deployment", "singlepot-ledger"))
    return port_number(container, service_port["targetPort"])


def test_only_the_gateway_and_the_checks_reach_the_ledgers_report_port(
    objects: list[Manifest],
) -> None:
    pods = pods_of(objects)
    ledger = pod_named(pods, "singlepot-ledger")
    port = ledger_report_port(objects)
    callers = {
        pod.name for pod in pods if pod is not ledger and reaches(objects, pod, ledger, port)
    }
    assert callers == LEDGER_CALLERS
    assert {"singlepot-allocations", "singlepot-outcomes"}.isdisjoint(callers)


def test_the_ledgers_callers_reach_it_on_that_port_only(objects: list[Manifest]) -> None:
    pods = pods_of(objects)
    ledger = pod_named(pods, "singlepot-ledger")
    port = ledger_report_port(objects)
    for name in LEDGER_CALLERS:
        caller = pod_named(pods, name)
        assert reaches(objects, caller, ledger, port)
        assert not reaches(objects, caller, ledger, port + 1)


@pytest.mark.parametrize(
    ("namespace", "labels"),
    [
        # A pod of the namespace that is not singlepot's.
        (None, {"app": "stranger"}),
        # The gateway's and the checks' labels, but in another namespace.
        ("elsewhere", {"app.kubernetes.io/name": "singlepot-gateway"}),
        ("elsewhere", {"app.kubernetes.io/component": "checks"}),
    ],
)
def test_nothing_else_in_or_out_of_the_namespace_reaches_the_ledger(
    objects: list[Manifest], namespace: str | None, labels: dict[str, str]
) -> None:
    ledger = pod_named(pods_of(objects), "singlepot-ledger")
    stranger = Pod(
        name="stranger",
        namespace=namespace or ledger.namespace,
        labels=labels,
        address=ipaddress.IPv4Address("10.245.0.1"),
    )
    assert not reaches(objects, stranger, ledger, ledger_report_port(objects))


def test_the_judge_follows_the_other_policies_too(objects: list[Manifest]) -> None:
    """The evaluation agrees with what the other policies are meant to allow and deny, so its
    verdicts on the ledger are not an accident of a permissive or a closed judge."""
    pods = pods_of(objects)
    collector = pod_named(pods, "singlepot-otel-collector")
    gateway = pod_named(pods, "singlepot-gateway")
    ledger = pod_named(pods, "singlepot-ledger")
    allocations = pod_named(pods, "singlepot-allocations")
    outcomes = pod_named(pods, "singlepot-outcomes")
    assert reaches(objects, gateway, collector, 4318)
    assert reaches(objects, allocations, collector, 4318)
    # The gateway takes its port from anyone, but the ledger's egress does not allow it.
    assert allows(objects, "Ingress", gateway, ledger, gateway.named_ports["http"])
    assert not reaches(objects, ledger, gateway, gateway.named_ports["http"])
    assert not reaches(objects, allocations, outcomes, outcomes.named_ports["http"])
