import { splitterTextPath } from './splitter-text-path';

// Every LineSplitter case again, with a sink that takes the text path (latin1:
// one character per byte), so both paths answer alike at every split point.
splitterTextPath.encoding = 'latin1';
require('./line-splitter.test');
