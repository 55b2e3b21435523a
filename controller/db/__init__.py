"""The DB edge. Importing it puts the OVS JSON parser in C in place (fastjson.py)."""
from .fastjson import use_c_parser

use_c_parser()
