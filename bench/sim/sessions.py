"""The diagnostic sessions of the virtual ECUs (ISO 14229-1 DiagnosticSessionControl) and the sets of
them a service is allowed in.

Apart from the server (``bench.sim.server``) because its programming services
(``bench.sim.programming_services``) and the dialects' servers check the session too.
"""

DEFAULT, PROGRAMMING, EXTENDED = 0x01, 0x02, 0x03
NON_DEFAULT = frozenset({PROGRAMMING, EXTENDED})
ALL_SESSIONS = frozenset({DEFAULT, PROGRAMMING, EXTENDED})
