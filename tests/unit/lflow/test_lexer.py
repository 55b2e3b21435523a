import pytest

from controller.lflow.lexer import ADDRSET, END, ID, INT, MASKED, PORTGROUP, PUNCT, STRING, LexError, tokenize


def kinds(text):
    return [(t.kind, t.text) for t in tokenize(text)[:-1]]


@pytest.mark.parametrize("text, kind, value, fmt", [
    ("6", INT, 6, "dec"),
    ("0x800", INT, 0x800, "hex"),
    ("10.0.1.11", INT, 0x0a00010b, "ipv4"),
    ("0a:00:00:00:01:03", INT, 0x0a0000000103, "mac"),
    ("ff:ff:ff:ff:ff:ff", INT, 0xffffffffffff, "mac"),
    ("::", INT, 0, "ipv6"),
    ("ff02::1:ff00:101", INT, 0xff0200000000000000000001ff000101, "ipv6"),
])
def test_constants(text, kind, value, fmt):
    [tok, end] = tokenize(text)
    assert (tok.kind, tok.value, tok.fmt) == (kind, value, fmt)
    assert end.kind == END


def test_fe80_address_value():
    [tok, _] = tokenize("fe80::ff:fe00:101")
    assert tok.value == int.from_bytes(bytes.fromhex("fe80000000000000000000fffe000101"), "big")


def test_masked_constants():
    [tok, _] = tokenize("10.0.1.0/24")
    assert (tok.kind, tok.value, tok.mask, tok.mask_fmt) == (MASKED, 0x0a000100, 24, "cidr")
    [tok, _] = tokenize("0x800/0xf00")
    assert (tok.kind, tok.mask, tok.mask_fmt) == (MASKED, 0xf00, "hex")
    [tok, _] = tokenize("fe80::/64")
    assert (tok.fmt, tok.mask, tok.mask_fmt) == ("ipv6", 64, "cidr")


def test_identifiers_with_dots_and_slices():
    assert kinds("xreg0[0..47]") == [(ID, "xreg0"), (PUNCT, "["), (INT, "0"), (PUNCT, ".."),
                                     (INT, "47"), (PUNCT, "]")]
    assert kinds("ip4.dst <-> ip4.src") == [(ID, "ip4.dst"), (PUNCT, "<->"), (ID, "ip4.src")]
    assert kinds("ip.ttl--;") == [(ID, "ip.ttl"), (PUNCT, "--"), (PUNCT, ";")]
    # Identifiers that start with hex letters are still identifiers.
    assert kinds("eth.dst dec_ttl face") == [(ID, "eth.dst"), (ID, "dec_ttl"), (ID, "face")]


def test_operators_longest_match():
    text = "== != < <= > >= && || ! ( ) { } [ ] .. , ; = <-> --"
    assert [t.text for t in tokenize(text)[:-1]] == text.split()


def test_strings_sets_groups_and_comments():
    toks = tokenize('inport == "lsp-vm1" /* c */ && $svc_monitor_mac // rest\n @pg1')
    assert [(t.kind, t.value) for t in toks[:-1]] == [
        (ID, "inport"), (PUNCT, "=="), (STRING, "lsp-vm1"), (PUNCT, "&&"),
        (ADDRSET, "svc_monitor_mac"), (PORTGROUP, "pg1")]
    assert tokenize('"a\\"b"')[0].value == 'a"b'


def test_columns():
    toks = tokenize("ip4 &&  tcp")
    assert [t.col for t in toks] == [1, 5, 9, 12]


@pytest.mark.parametrize("text, col, reason", [
    ('inport == "lsp', 11, "unterminated string"),
    ("ip4 && # x", 8, "unexpected character"),
    ("a /* b", 3, "unterminated comment"),
    ("$ x", 1, "expected a name"),
    ("1.2.3.400", 1, "invalid IPv4"),
])
def test_errors_carry_column(text, col, reason):
    with pytest.raises(LexError) as e:
        tokenize(text)
    assert e.value.col == col
    assert reason in str(e.value)
