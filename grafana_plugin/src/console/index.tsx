import React from 'react';

import { ConsoleApp } from './ConsoleApp';
import { mount } from './mount';

const params = new URLSearchParams(window.location.search);
mount(<ConsoleApp timeoutEnv={params.get('timeoutEnv') ?? undefined} />);
