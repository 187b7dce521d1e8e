"""The alarms can reach someone: CloudWatch may publish to the topic and use its key.

An explicit topic policy replaces SNS's default one, so without an Allow for CloudWatch the
alarms change state and notify nobody. Both grants are scoped to this stack's alarms in
this account (aws:SourceAccount, aws:SourceArn), as AWS advises against the confused deputy.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from infra.constructs.monitoring import CLOUDWATCH_PRINCIPAL
from infra.environment_config import ConfigError, load_environment
from tests.infra.validators import PLACEHOLDER_ACCOUNT, PLACEHOLDER_REGION, Resolver


def _cloudwatch_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        statement
        for statement in statements
        if statement.get("Principal") == {"Service": CLOUDWATCH_PRINCIPAL}
    ]


def _account_and_region(env: Any) -> tuple[str, str]:
    if env.name == "prod":
        return str(env.stack.account), str(env.stack.region)
    return PLACEHOLDER_ACCOUNT, PLACEHOLDER_REGION


def test_cloudwatch_may_publish_to_the_alarm_topic(env: Any) -> None:
    topic_id = env.logical_id("AWS::SNS::Topic", "AlarmTopic")
    _, policy = env.only("AWS::SNS::TopicPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    # Then the topic's policy still denies plain HTTP...
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    # ...and allows CloudWatch, and only CloudWatch, to publish to this topic
    (allow,) = _cloudwatch_statements(statements)
    assert allow["Effect"] == "Allow" and allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": topic_id}
    assert [s for s in statements if s["Effect"] == "Allow"] == [allow]


def test_cloudwatch_may_use_the_topic_key_for_our_alarms_only(env: Any) -> None:
    key_id = env.logical_id("AWS::KMS::Key", "TopicKey")
    topic_id = env.logical_id("AWS::SNS::Topic", "AlarmTopic")
    # Given the topic is encrypted with a customer-managed key
    _, topic = env.only("AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    (use_key,) = _cloudwatch_statements(
        env.resources("AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"]["Statement"]
    )
    # Then CloudWatch may encrypt messages for it (what publishing to an encrypted topic needs)
    assert use_key["Effect"] == "Allow"
    assert set(use_key["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    _, policy = env.only("AWS::SNS::TopicPolicy")
    (publish,) = _cloudwatch_statements(policy["Properties"]["PolicyDocument"]["Statement"])
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    # And both grants hold only for alarms of this account and region whose names this stack
    # uses: every alarm of the stack matches, a same-account alarm of another stack does not
    account, region = _account_and_region(env)
    resolver = Resolver(env.data, region=region, account=account)
    for statement in (use_key, publish):
        conditions = resolver.resolve(statement["Condition"])
        assert conditions["StringEquals"] == {"aws:SourceAccount": account}
        pattern = conditions["ArnLike"]["aws:SourceArn"]
        assert pattern.startswith(f"arn:aws:cloudwatch:{region}:{account}:alarm:")
        for alarm in env.resources("AWS::CloudWatch::Alarm").values():
            name = alarm["Properties"]["AlarmName"]
            assert fnmatch.fnmatchcase(
                f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}", pattern
            )
        other = f"arn:aws:cloudwatch:{region}:{account}:alarm:someone-else"
        assert not fnmatch.fnmatchcase(other, pattern)


def test_alarm_names_are_the_environments(dev: Any, prod: Any) -> None:
    # Then dev's topic cannot receive prod's alarms, nor prod's dev's
    for env in (dev, prod):
        names = [
            a["Properties"]["AlarmName"] for a in env.resources("AWS::CloudWatch::Alarm").values()
        ]
        assert len(names) == 7
        assert all(name.startswith(f"imgclf-{env.name}-") for name in names), names


@pytest.mark.parametrize(
    "address", ["ops", "ops@example", "ops@example.com, dev@example.com", "a b@example.com", ""]
)
def test_a_bad_alarm_email_is_a_one_line_config_error(address: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_environment("dev", {"dev": {"alarm_email": address}})
    message = str(error.value)
    assert message.startswith("dev: alarm_email must be one e-mail address") and "\n" not in message


def test_a_good_alarm_email_is_accepted() -> None:
    config = load_environment("dev", {"dev": {"alarm_email": "ops+imgclf@example.co.uk"}})
    assert config.alarm_email == "ops+imgclf@example.co.uk"
