"""Starting and stopping servers: in a child process (`ServerProcess`) or a thread (`ThreadServer`).

process.py  a server's lifecycle: start it on a free loopback port, wait until it answers, stop it
warm.py     warm hosts: one process imports the server side once and forks every server from it
forked.py   `WarmServerProcess`: a `ServerProcess` forked from the warm host (`server_process` picks one)

The launcher sits above the server: it names the program it starts (`python -m lab.server.host`), and the
server never imports it. What both sides use sits below both: `lab.contain` (containment, and the
environment a server process is started with) and `lab.serving` (the socket, and `ThreadServer`).
"""
