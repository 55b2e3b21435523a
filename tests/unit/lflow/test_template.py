"""Analysis templates (controller/lflow/template.py): a flow that differs from an analyzed
one only in port names, MACs and IPv4 addresses gets that analysis with the literals
replaced; on northd's own flows this must equal analyzing the flow for real."""
from controller.lflow.passes import Env
from controller.lflow.plan import analyze_flow
from controller.lflow.symbols import default_symtab
from controller.lflow.template import TemplateStore, canonical


def test_canonical_form_cuts_out_names_macs_and_ipv4():
    form, literals = canonical('eth.dst == 0a:00:00:00:01:02 && inport == "p\\"2" && ip4.src == 10.0.1.2')
    assert form == 'eth.dst == \x00mac\x00 && inport == \x00str\x00 && ip4.src == \x00ip4\x00'
    assert literals == (("mac", 0x0a0000000102), ("str", 'p"2'), ("ip4", 0x0a000102))
    assert canonical("ip4.dst == 10.0.0.0/8") is None               # prefixes: never templated
    assert canonical("eth.src == 01:00:00:00:00:00/01:00:00:00:00:00") is None
    form, literals = canonical("ip6.dst == ::ffff:10.0.0.1 && reg0 == 5")
    assert literals == () and form == "ip6.dst == ::ffff:10.0.0.1 && reg0 == 5"


def test_templated_analyses_equal_real_ones_on_northd_flows(capture_flows):
    symtab, env = default_symtab(), Env()
    store = TemplateStore()
    templated = 0
    for f in capture_flows:
        real = analyze_flow(f, symtab, env, lambda port: False)
        form, guess = store.instantiate(f.pipeline, f.match, f.actions)
        if guess is not None:
            templated += 1
            assert guess == real, (f.match, f.actions)
        store.offer(f.pipeline, f.match, f.actions, real)
    # the per-port copies (port security, L2 lookup, ARP responders, ...) are templated
    assert templated >= 20, templated


def test_a_refused_form_is_not_templated_again(capture_flows):
    symtab, env = default_symtab(), Env()
    store = TemplateStore()
    f = next(f for f in capture_flows if f.stage == "ls_in_l2_lkup" and f.match.startswith("eth.dst == 0a"))
    store.offer(f.pipeline, f.match, f.actions, analyze_flow(f, symtab, env, lambda p: False))
    other = f.match.replace("0a:00:00:00", "0a:00:00:09"), f.actions.replace('"', '"x', 1)
    form, guess = store.instantiate(f.pipeline, *other)
    assert guess is not None
    store.refuse(form)
    assert store.instantiate(f.pipeline, *other) == (None, None)
