"""The OVSDB sessions parse JSON in C (controller/db/fastjson.py): the venv's ovs package
has no C extension, Debian's python3-openvswitch (installed by .ci/setup) does."""
import ovs.json

import controller.db  # noqa: F401 - puts the C parser in place
from controller.db import fastjson

MESSAGE = (b'{"id":null,"method":"update3","params":[["monid","OVN_Southbound"],'
           b'"7c1a-0",{"Port_Binding":{"1b2c":{"insert":{"logical_port":"lsp-\\u00e9",'
           b'"tunnel_key":7,"mac":["set",["0a:00:00:00:01:01 10.0.1.1"]],"up":true,'
           b'"options":["map",[["requested-chassis","hv1"]]],"x":1.5e3}}}}]}')


def _parse(parser_cls, data: bytes):
    p = parser_cls(check_trailer=False)
    text = data.decode()
    for i in range(0, len(text), 7):          # fed in pieces, as a stream delivers it
        p.feed(text[i:i + 7])
    assert p.is_done()
    return p.finish()


def test_the_sessions_parse_json_in_c():
    assert fastjson.active() == "C"
    assert type(ovs.json.Parser(check_trailer=False)).__module__ != "ovs.json"


def test_the_c_parser_reads_what_the_python_one_reads():
    # the pure-Python class itself, past its __new__ that hands out the C one
    python_parser = type("PyParser", (ovs.json.Parser,),
                         {"__new__": lambda cls, *a, **k: object.__new__(cls)})
    assert _parse(ovs.json.Parser, MESSAGE) == _parse(python_parser, MESSAGE)
