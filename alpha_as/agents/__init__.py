"""Alpha-AS agents: state features, feature selection and the DQN."""
