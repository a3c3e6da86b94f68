"""placeholder"""
def prepare_vocabulary(config, open_model):
    return None
