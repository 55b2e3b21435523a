"""The logical-flow compiler: OVN Southbound match/actions text -> our IR -> plan -> C.

Passes, each in its own module: lexer -> parser (ast, actions) -> passes (annotate,
simplify, evaluate conditions, normalize) -> classify -> plan -> emit_c. The reference
evaluator (evaluator.py) defines the meaning the passes must preserve.
"""
