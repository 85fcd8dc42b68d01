"""Change parsers on the shared fixtures: GitHub deliveries, Argo CD notifications, the
generic body; GitHub's published signature test vector."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from core.changes import ChangeKind, ChangeStatus
from integrations.change_events import (
    GitHubRules,
    github_signature_valid,
    parse_argocd,
    parse_change,
    parse_github,
)
from tests.conftest import FIXTURES, fixture_json

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
GENERIC = {
    "id": "deploy-981",
    "kind": "deployment",
    "services": ["checkout"],
    "environment": "prod",
    "version": "v2.3.1",
    "previous_version": "v2.3.0",
    "author": "dana",
    "started_at": "2026-11-30T10:02:00Z",
    "finished_at": "2026-11-30T10:05:00Z",
    "url": "https://deploy.example.com/981",
    "labels": {},
}


def test_the_generic_body_as_written_in_the_docs() -> None:
    event = parse_change(GENERIC)
    assert (event.id, event.kind, event.services) == (
        "deploy-981",
        ChangeKind.DEPLOYMENT,
        ("checkout",),
    )
    assert event.landed_at == datetime(2026, 11, 30, 10, 5, tzinfo=UTC)
    assert event.summary() == "checkout v2.3.1 deployed from v2.3.0 by dana in prod"


@pytest.mark.parametrize("kind", ["deployment", "config", "feature-flag", "scaling", "manual"])
def test_every_kind_is_accepted(kind: str) -> None:
    assert parse_change({**GENERIC, "kind": kind}).kind.value == kind


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"kind": "rollout"}, "kind"),
        ({"services": []}, "services"),
        ({"started_at": "2026-11-30T10:02:00"}, "timezone"),
        ({"finished_at": "2026-11-30T09:00:00Z"}, "finished_at is before started_at"),
        ({"services": ["not a name"]}, "is not a service name"),
        ({"id": ""}, "id"),
    ],
)
def test_bad_generic_bodies_say_why(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parse_change({**GENERIC, **change})


def test_githubs_signature_test_vector() -> None:
    vector = fixture_json("github", "05_signature_test_vector.json")
    header = vector["expected_header"]["X-Hub-Signature-256"]
    body = vector["payload"].encode()
    assert github_signature_valid(vector["secret"], body, header)
    assert not github_signature_valid(vector["secret"], body + b" ", header)
    assert not github_signature_valid("another secret", body, header)
    assert not github_signature_valid(vector["secret"], body, None)
    assert not github_signature_valid(vector["secret"], body, header.replace("sha256=", "sha1="))


def test_a_successful_deployment_status() -> None:
    event = parse_github(
        "deployment_status", fixture_json("github", "02_octokit_deployment_status_success.json")
    )
    assert event is not None
    assert event.id == "github:Codertocat/Hello-World:deployment:145988746"
    assert (event.services, event.environment, event.author) == (
        ("Hello-World",),
        "production",
        "Codertocat",
    )
    assert event.status is ChangeStatus.SUCCEEDED
    assert event.version == "f95f852"
    assert event.started_at == datetime(2019, 5, 15, 15, 20, 53, tzinfo=UTC)
    assert event.finished_at == datetime(2019, 5, 15, 15, 20, 55, tzinfo=UTC)


def test_the_deployment_and_its_status_are_one_change() -> None:
    created = parse_github(
        "deployment", fixture_json("github", "01_octokit_deployment_created.json")
    )
    status = parse_github(
        "deployment_status", fixture_json("github", "02_octokit_deployment_status_success.json")
    )
    assert created is not None and status is not None
    assert created.id == status.id
    assert created.status is ChangeStatus.IN_PROGRESS and created.finished_at is None


def test_an_old_failed_deployment_status_without_action() -> None:
    event = parse_github(
        "deployment_status", fixture_json("github", "03_zulip_deployment_status_failure.json")
    )
    assert event is not None
    assert event.status is ChangeStatus.FAILED
    assert event.services == ("public-repo",) and event.author == "baxterthehacker"
    assert event.what() == "public-repo 9049f12 deployed (failed)"


def test_a_completed_workflow_run_and_the_repository_mapping() -> None:
    document = fixture_json("github", "04_octokit_workflow_run_completed_success.json")
    event = parse_github("workflow_run", document)
    assert event is not None
    assert event.id == "github:octo-org/octo-repo:run:289782451:1"
    assert event.status is ChangeStatus.SUCCEEDED and event.version == "3484a3f"
    assert event.description == "ci(action): update actions/setup-node digest to 8c91899"
    rules = GitHubRules(repositories={"octo-org/octo-repo": ["checkout", "cart"]})
    mapped = parse_github("workflow_run", document, rules)
    assert mapped is not None and mapped.services == ("checkout", "cart")


def test_workflow_globs_leave_other_runs_out() -> None:
    document = fixture_json("github", "04_octokit_workflow_run_completed_success.json")
    assert parse_github("workflow_run", document, GitHubRules(workflows=["deploy*"])) is None
    kept = parse_github("workflow_run", document, GitHubRules(workflows=["*/test.yml"]))
    assert kept is not None


def test_events_that_are_not_changes_are_ignored_and_broken_ones_rejected() -> None:
    assert parse_github("push", {"repository": {"full_name": "a/b"}}) is None
    with pytest.raises(ValueError, match="repository"):
        parse_github("deployment_status", {"deployment": {}})
    with pytest.raises(ValueError, match="deployment_status is missing"):
        parse_github("deployment_status", {"repository": {"full_name": "a/b"}, "deployment": {}})


def rendered_sync_result() -> dict[str, Any]:
    """The docs' rendered `syncResult` body, made valid JSON as its notes say."""
    text = (FIXTURES / "argocd" / "04_docs_on_deployed_rendered_body_excerpt.jsonc").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))
    text = re.sub(r",\s*\.\.\.\s*}", "}", text)
    return dict(json.loads(text))


def test_the_argocd_sync_result_body_from_the_docs() -> None:
    event = parse_argocd(rendered_sync_result(), now=NOW)
    assert event.services == ("test",)  # the Deployment; the HPA is not a workload
    assert event.version == "1.27.1"
    assert event.id == "argocd:test@f3937462080c6946ff5ec4b5fa393e7c22388e4c"
    assert event.started_at == NOW


def application(phase: str = "Succeeded") -> dict[str, Any]:
    """What `{"app": {{toJson .app}}, ...}` renders for an Application (fields per the CRD)."""
    return {
        "app": {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": "checkout-prod",
                "labels": {"app.kubernetes.io/name": "checkout", "environment": "production"},
            },
            "spec": {"destination": {"namespace": "shop"}},
            "status": {
                "sync": {"status": "Synced", "revision": "abc1234def"},
                "health": {"status": "Healthy"},
                "summary": {"images": ["registry.local:5000/shop/checkout:v2.3.1"]},
                "operationState": {
                    "phase": phase,
                    "message": "successfully synced (all tasks run)",
                    "startedAt": "2026-11-30T10:02:00Z",
                    "finishedAt": "2026-11-30T10:05:00Z" if phase != "Running" else None,
                    "operation": {"initiatedBy": {"username": "dana"}},
                    "syncResult": {"revision": "abc1234def"},
                },
            },
        },
        "argocdUrl": "https://argocd.example.com",
    }


def test_an_argocd_application_rendered_by_lookouts_template() -> None:
    event = parse_argocd(application(), now=NOW)
    assert event.id == "argocd:checkout-prod@abc1234def"
    assert (event.services, event.version, event.environment, event.author) == (
        ("checkout",),
        "v2.3.1",
        "production",
        "dana",
    )
    assert event.url == "https://argocd.example.com/applications/checkout-prod"
    running = parse_argocd(application("Running"), now=NOW)
    assert running.id == event.id and running.status is ChangeStatus.IN_PROGRESS
    assert parse_argocd(application("Failed"), now=NOW).status is ChangeStatus.FAILED


def test_broken_argocd_bodies_say_why() -> None:
    with pytest.raises(ValueError, match="not an Argo CD notification"):
        parse_argocd({"attachments": []}, now=NOW)
    body = application()
    body["app"]["status"]["operationState"]["phase"] = "Exploded"
    with pytest.raises(ValueError, match="unknown operation phase"):
        parse_argocd(body, now=NOW)
