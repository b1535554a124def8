"""Starting and stopping servers: in a child process (`ServerProcess`) or a thread (`ThreadServer`).

process.py  a server's lifecycle: start it on a free loopback port, wait until it answers, stop it
contain.py  containment: nothing a server process starts may outlive the lab, or the server's own stop()
warm.py     warm hosts: one process imports the server side once and forks every server from it
forked.py   `WarmServerProcess`: a `ServerProcess` forked from the warm host (`server_process` picks one)
"""
