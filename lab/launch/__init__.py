"""Starting and stopping servers: in a child process (`ServerProcess`) or a thread (`ThreadServer`)."""
