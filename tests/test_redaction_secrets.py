"""The built-in ``secrets`` redactor, the redactor registry and ``resolve_redactor``.

Every key below is fake: built from a fixed alphabet so it matches a format, never a
real credential.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from memori.core import ComponentSpec, ConfigurationError, Redactor, get_plugins, hookimpl
from memori.core.registry import Plugins
from memori.redaction import KINDS, ChainRedactor, SecretsRedactor, luhn_ok, resolve_redactor

ALNUM = "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7"


def fake(n: int, alphabet: str = ALNUM) -> str:
    """``n`` characters cycling through ``alphabet`` (format-shaped, not a secret)."""
    return (alphabet * (n // len(alphabet) + 1))[:n]


JWT = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiJ0ZXN0In0." + fake(43)

FORMATS = [
    ("openai-key", "sk-" + fake(48)),
    ("openai-key", "sk-proj-" + fake(40, ALNUM + "_-")),
    ("anthropic-key", "sk-ant-api03-" + fake(90, ALNUM + "_-")),
    ("aws-access-key", "AKIA" + fake(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
    ("aws-access-key", "ASIA" + fake(16, "QRSTUVWXYZ234567")),
    ("github-token", "ghp_" + fake(36)),
    ("github-token", "gho_" + fake(36)),
    ("github-token", "ghu_" + fake(36)),
    ("github-token", "ghs_" + fake(36)),
    ("github-token", "ghr_" + fake(36)),
    ("github-token", "github_pat_" + fake(82, ALNUM + "_")),
    ("slack-token", "xoxb-" + "123456789012-1234567890123-" + fake(24)),
    ("slack-token", "xoxp-" + fake(40, "0123456789-")),
    ("google-api-key", "AIza" + fake(35, ALNUM + "_-")),
    ("stripe-key", "sk_live_" + fake(24)),
    ("stripe-key", "rk_live_" + fake(24)),
    ("jwt", JWT),
]


@pytest.fixture(scope="module")
def redactor() -> SecretsRedactor:
    return SecretsRedactor()


@pytest.mark.parametrize(("kind", "secret"), FORMATS, ids=[f[1][:8] for f in FORMATS])
def test_each_key_format_becomes_its_typed_placeholder(
    redactor: SecretsRedactor, kind: str, secret: str
) -> None:
    text = f"my key is {secret}, keep it safe"
    assert redactor.redact(text) == f"my key is [redacted:{kind}], keep it safe"
    assert redactor.redact(secret) == f"[redacted:{kind}]"


def test_aws_secret_key_next_to_its_label_is_redacted_and_the_label_kept(
    redactor: SecretsRedactor,
) -> None:
    secret = fake(40, ALNUM + "/+")
    for text in (f"aws_secret_access_key = {secret}", f'AWS_SECRET_ACCESS_KEY="{secret}"',
                 f'{{"aws_secret_access_key": "{secret}"}}'):
        out = redactor.redact(text)
        assert secret not in out and "[redacted:aws-secret-key]" in out
        assert out.lower().startswith(("aws_secret_access_key", '{"aws_secret_access_key'))
    assert redactor.redact(f"a hash {secret} alone") == f"a hash {secret} alone"


def test_bearer_token_is_redacted_and_the_scheme_kept(redactor: SecretsRedactor) -> None:
    token = fake(32, ALNUM + "._-")
    assert redactor.redact(f"Authorization: Bearer {token}") == (
        "Authorization: Bearer [redacted:bearer-token]")
    assert redactor.redact(f"Authorization: Bearer {JWT}") == "Authorization: Bearer [redacted:jwt]"
    assert redactor.redact("the bearer of bad news, the ring-bearer") == (
        "the bearer of bad news, the ring-bearer")


def test_keys_inside_longer_words_are_left_alone(redactor: SecretsRedactor) -> None:
    for text in ("risk-" + fake(30), "task-" + fake(30), "ghp_short", "the AKIA prefix",
                 "sk-short", "eyJ alone"):
        assert redactor.redact(text) == text


@pytest.mark.parametrize("card", [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111",
    "5555 5555 5555 4444", "3782 822463 10005", "6011111111111117", "4222222222222",
])
def test_luhn_valid_card_numbers_are_redacted(redactor: SecretsRedactor, card: str) -> None:
    assert luhn_ok(card)
    assert redactor.redact(f"pay with {card}.") == "pay with [redacted:card]."
    assert redactor.redact(f"卡号{card}谢谢") == "卡号[redacted:card]谢谢"


def test_a_card_beside_other_numbers_is_redacted_alone(redactor: SecretsRedactor) -> None:
    assert redactor.redact("card 4111 1111 1111 1111 123 exp 12/29") == (
        "card [redacted:card] 123 exp 12/29")
    assert redactor.redact("4111 1111 1111 1111 5555 5555 5555 4444") == (
        "[redacted:card] [redacted:card]")


@pytest.mark.parametrize("text", [
    "4111111111111112",                      # 16 digits, fails Luhn
    "4111 1111 1111 1112",
    "call me at +1 (415) 555-2671 or +44 20 7946 0958",
    "order id 1234567890123456",             # fails Luhn
    "ORD-2024-0001-2345",
    "tracking 1Z999AA10123456784",           # a card's digits inside a longer id
    "pi is 3.4111111111111111",              # a decimal, not a card
    "4111111111111111111111111",             # 25 digits: longer than any card
    "the years 1999 2000 2001 2002 2003",
])
def test_numbers_that_are_not_cards_stay(redactor: SecretsRedactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_luhn() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert not luhn_ok("") and not luhn_ok("4111 1111 1111 111x")


PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    + "\n".join(fake(64, ALNUM + "+/") for _ in range(5))
    + "\n" + fake(20) + "==\n-----END RSA PRIVATE KEY-----"
)


def test_private_key_block_across_lines_is_redacted(redactor: SecretsRedactor) -> None:
    text = f"here is my key:\n{PEM}\nthanks"
    assert redactor.redact(text) == "here is my key:\n[redacted:private-key]\nthanks"
    for kind in ("", "EC ", "OPENSSH ", "ENCRYPTED "):
        block = PEM.replace("RSA ", kind)
        assert redactor.redact(block) == "[redacted:private-key]"


def test_a_truncated_private_key_is_redacted_to_its_last_key_line(
    redactor: SecretsRedactor,
) -> None:
    cut = PEM.split("-----END")[0].rstrip()
    assert redactor.redact(cut + "\nWhat is wrong with it?") == (
        "[redacted:private-key]\nWhat is wrong with it?")


def test_public_keys_and_certificates_stay(redactor: SecretsRedactor) -> None:
    text = PEM.replace("RSA PRIVATE KEY", "PUBLIC KEY")
    assert redactor.redact(text) == text


def test_text_without_secrets_is_returned_unchanged(redactor: SecretsRedactor) -> None:
    for text in ("", "I ran 5 km in 24:10 on 2024-06-01, goal: sub-25 5K by June.",
                 "我的目标是六月前五公里跑进二十五分钟 🏃‍♀️🎉👍🏽", "naïve café Ünïcödé ß"):
        out = redactor.redact(text)
        assert out is text


def test_secrets_among_chinese_and_emoji_leave_those_untouched(
    redactor: SecretsRedactor,
) -> None:
    key = "sk-proj-" + fake(40)
    text = f"这是我的密钥🔑{key}。请记住 🙏"
    assert redactor.redact(text) == "这是我的密钥🔑[redacted:openai-key]。请记住 🙏"


def test_a_lone_surrogate_does_not_crash(redactor: SecretsRedactor) -> None:
    key = "sk-" + fake(48)
    assert redactor.redact(f"\ud800 {key} \udfff") == "\ud800 [redacted:openai-key] \udfff"
    assert redactor.redact("\udc80" * 10) == "\udc80" * 10


def test_redaction_is_idempotent(redactor: SecretsRedactor) -> None:
    text = " ".join(s for _, s in FORMATS) + " 4111 1111 1111 1111 " + PEM
    once = redactor.redact(text)
    assert redactor.redact(once) == once
    assert all(s not in once for _, s in FORMATS)


@pytest.mark.parametrize("text", [
    "sk-" + "a" * 100_000, "4" * 100_000, "4 " * 50_000, "eyJ." * 25_000,
    "-----BEGIN PRIVATE KEY-----" * 5_000, "Bearer " * 20_000,
    "aws_secret_access_key=" * 5_000, "1234 5678 " * 100_000,
], ids=["sk-aaa", "4444", "4_4_", "eyJ.", "BEGIN", "Bearer", "aws-label", "number-table"])
def test_pathological_inputs_finish(redactor: SecretsRedactor, text: str) -> None:
    out = redactor.redact(text)  # linear patterns: each of these takes milliseconds
    assert isinstance(out, str) and len(out) <= len(text)


def test_a_megabyte_of_text_is_redacted_whole(redactor: SecretsRedactor) -> None:
    key = "ghp_" + fake(36)
    text = ("lorem ipsum 42 dolor " * 50_000) + key
    assert redactor.redact(text).endswith("dolor [redacted:github-token]")


def test_kinds_choose_the_rules() -> None:
    only_cards = SecretsRedactor(kinds=["card"])
    key = "sk-" + fake(48)
    assert only_cards.redact(f"{key} 4111111111111111") == f"{key} [redacted:card]"
    with pytest.raises(ConfigurationError, match=r"unknown secret kind.*openai-key"):
        SecretsRedactor(kinds=["cards"])
    assert set(KINDS) >= {"openai-key", "card", "private-key", "jwt"}


# registry and resolution


def test_the_builtin_redactor_registers_through_the_entry_point_hook() -> None:
    plugins = get_plugins()
    assert "redactors" in plugins.plugin_names()
    assert plugins.pm.hook.memori_register_redactors.get_hookimpls()
    assert plugins.redactors["secrets"].loader == "memori.redaction.secrets:SecretsRedactor"
    with pytest.raises(TypeError):
        plugins.redactors["x"] = plugins.redactors["secrets"]  # type: ignore[index]


def test_the_name_secrets_resolves_to_the_builtin_redactor() -> None:
    r = resolve_redactor("secrets")
    assert isinstance(r, SecretsRedactor) and isinstance(r, Redactor)
    assert r.name == "secrets"


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown redactor 'pii'.*none, .*secrets"):
        resolve_redactor("pii")
    with pytest.raises(ConfigurationError, match="redact"):
        resolve_redactor(42)  # type: ignore[arg-type]


class Upper:
    name = "upper"

    def redact(self, text: str) -> str:
        return text.upper()


def test_none_an_object_and_chains_resolve() -> None:
    assert resolve_redactor(None) is None and resolve_redactor("none") is None
    upper = Upper()
    assert resolve_redactor(upper) is upper
    chain = resolve_redactor(["secrets", upper])
    assert isinstance(chain, ChainRedactor) and chain.name == "secrets+upper"
    assert chain.redact("key sk-" + fake(48)) == "KEY [REDACTED:OPENAI-KEY]"
    by_names = resolve_redactor("secrets, secrets")
    assert isinstance(by_names, ChainRedactor) and len(by_names.redactors) == 2


def test_a_third_party_redactor_registers_and_names_are_unique() -> None:
    @hookimpl
    def memori_register_redactors(register: Any) -> None:
        register(ComponentSpec("upper", "test_redaction_secrets:Upper"))

    plugins = Plugins(load_entry_points=False)
    plugins.add_plugin(SimpleNamespace(memori_register_redactors=memori_register_redactors),
                       name="upper-plugin")
    assert list(plugins.redactors) == ["upper"]

    @hookimpl
    def memori_register_redactors_again(register: Any) -> None:
        register(ComponentSpec("upper", "elsewhere:Other"))

    clash = SimpleNamespace(memori_register_redactors=memori_register_redactors_again)
    with pytest.raises(ConfigurationError, match="redactor 'upper' is already registered"):
        plugins.add_plugin(clash, name="clash")
