"""What integrators and operators write, read and checked: the settings from the
environment, the network file (``connectors.yaml``) and the shape of its connector
entries, secrets named by environment variable, YAML read with file and line for every
error, and the JSON Schemas generated from the code. Pure reading and checking: nothing
here opens a database, a connection or a partner's server.
"""
