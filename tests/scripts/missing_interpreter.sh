#!/nonexistent/interpreter
never run
