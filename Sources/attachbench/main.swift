print("attachbench: not yet")
