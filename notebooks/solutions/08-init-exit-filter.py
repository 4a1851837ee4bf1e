# Notebook 08, exercise: the exit of ex08's init process, and nothing else.
# /tasks/exit only; container_id is the container; id is the process: for the init process, the container id.
# == compares whole values (~= would also match ex08-b).
answer = 'topic=="/tasks/exit",event.container_id==ex08,event.id==ex08'
